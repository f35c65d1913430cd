// Package controllers holds the ZMQTopology reconciler. Reconcile is a short
// script over phases (validate, keys, render, apply, prune, observe), each in its
// own phase_<name>.go file; rendering is in the pure render package and
// status in status.go.
package controllers

import (
	"context"
	"errors"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// ZMQTopologyReconciler reconciles ZMQTopology objects into workloads,
// Services, ConfigMaps and NetworkPolicies, and reports their state.
type ZMQTopologyReconciler struct {
	client.Client
	// Unlabelled reads the metadata of objects of the child kinds that
	// lack the topology label (NewUnlabelledCache), which the manager's
	// cache does not hold: a child's name taken by someone else's object
	// is found there. Nil skips that check (tests only).
	Unlabelled client.Reader
	// Recorder emits events on the topology.
	Recorder events.EventRecorder
	// Render holds the operator-wide rendering settings.
	Render render.Options
	// Links is the sidecar poller whose reports become status.links'
	// connection health; nil leaves links at "both ends ready".
	Links *linkpoll.Poller

	// ChildEventBatch is how long the changes of a topology's children are
	// gathered before it is reconciled once for all of them (childEvents);
	// zero reconciles at each change. The manager uses
	// DefaultChildEventBatch.
	ChildEventBatch time.Duration

	// CurveResync is how often a CURVE topology is reconciled to pick up
	// key rotation requests (key Secrets are not watched); zero is
	// DefaultCurveResync.
	CurveResync time.Duration
	// APIReader reads CURVE key Secrets straight from the API server: they
	// are neither cached nor watched (the manager's Secret cache holds the
	// webhook's certificate only).
	APIReader client.Reader

	// backoff keeps failing children from being retried before their
	// backoff period ends; see failures.
	backoff     *childBackoff
	backoffOnce sync.Once
	// fields computes the field sets of rendered children (changedetect.go).
	fields fieldSets
	// indexed is set by SetupWithManager, which adds indexTopology to the
	// manager's cache: Client's lists of children may then use it.
	indexed bool
}

// phaseFunc is one step of a reconcile. An error aborts the reconcile (and
// is retried); problems the user should see go into the scope instead.
type phaseFunc func(ctx context.Context, s *scope) error

// +kubebuilder:rbac:groups=zmq.topology.dev,resources=zmqtopologies,verbs=get;list;watch
// +kubebuilder:rbac:groups=zmq.topology.dev,resources=zmqtopologies/status,verbs=patch
// +kubebuilder:rbac:groups=zmq.topology.dev,resources=zmqtopologies/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one topology's children to the desired state and
// records what it observed in status.
func (r *ZMQTopologyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, reterr error) {
	topology := &zmqv1.ZMQTopology{}
	if err := r.Get(ctx, req.NamespacedName, topology); err != nil {
		if apierrors.IsNotFound(err) {
			r.failures().forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !topology.DeletionTimestamp.IsZero() {
		r.failures().forget(req.NamespacedName)
		return ctrl.Result{}, nil // the garbage collector deletes the children
	}
	s := &scope{topology: topology, original: topology.DeepCopy()}

	// Status is computed and patched once, whatever the phases did.
	defer func() {
		retry, err := r.patchStatus(ctx, s)
		if retry && (res.RequeueAfter == 0 || res.RequeueAfter > time.Second) {
			res.RequeueAfter = time.Second
		}
		reterr = errors.Join(reterr, err)
		if reterr != nil || res.RequeueAfter > 0 {
			// A retry waits its turn: the priority a topology was queued
			// at (readyPriority, child_events.go) is for one reconcile.
			res.Priority = ptr.To(0)
		}
	}()

	for _, phase := range []phaseFunc{r.validate, r.keys, r.render, r.apply, r.prune, r.observe, r.observeLinks} {
		if err := phase(ctx, s); err != nil {
			s.internalErr = err
			return ctrl.Result{}, err
		}
	}
	// A child that could not be written is retried when its backoff period
	// ends (not through the returned error, which would retry at once on
	// any event); its error is already in status and in an event.
	return ctrl.Result{RequeueAfter: s.requeueAfter}, nil
}

// patchStatus computes the status from the scope and patches it only if it
// changed. It asks for a retry when it lost a race with another writer.
func (r *ZMQTopologyReconciler) patchStatus(ctx context.Context, s *scope) (retry bool, err error) {
	t := s.topology
	computeStatus(s, r.Render.ClusterDomain)
	if statusEqual(s.original.Status, t.Status) {
		return false, nil
	}
	err = r.Status().Patch(ctx, t, client.MergeFromWithOptions(s.original, client.MergeFromWithOptimisticLock{}))
	switch {
	case apierrors.IsNotFound(err):
		return false, nil // deleted meanwhile
	case apierrors.IsConflict(err):
		logf.FromContext(ctx).V(1).Info("status patch lost a race; retrying", "reason", err)
		return true, nil
	}
	return false, err
}

// SetupWithManager registers the reconciler: it watches topologies (spec
// changes only, so our own status patches do not loop) and the changes of
// the children it owns, batched by ChildEventBatch (child_events.go), so
// that drift is repaired and workload readiness reaches status, and, with
// a link poller, the topologies whose link reports changed.
func (r *ZMQTopologyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := addTopologyIndex(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	r.indexed = true
	b := ctrl.NewControllerManagedBy(mgr).
		For(&zmqv1.ZMQTopology{}, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	children := childEvents(mgr.GetScheme(), mgr.GetRESTMapper(), r.ChildEventBatch, r.lastToSettle)
	for _, kind := range []client.Object{&appsv1.Deployment{}, &appsv1.StatefulSet{}, &corev1.Service{},
		&corev1.ConfigMap{}, &policyv1.PodDisruptionBudget{}, &networkingv1.NetworkPolicy{}} {
		b = b.Watches(kind, children, builder.WithPredicates(childChanged))
	}
	if r.Links != nil {
		b = b.WatchesRawSource(source.Channel(r.Links.Events(), &handler.EnqueueRequestForObject{}))
	}
	return b.Named("zmqtopology").Complete(r)
}
