package controllers

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// scope carries one reconcile's state between its phases. The comment on
// each field names the phase that sets it.
type scope struct {
	// topology is the object being reconciled; original is its copy as read,
	// against which the status patch is computed. Set by Reconcile.
	topology *zmqv1.ZMQTopology
	original *zmqv1.ZMQTopology

	// invalid holds the graph errors; when set, nothing is rendered, applied
	// or pruned. Set by validate.
	invalid field.ErrorList

	// curveKeys are the components' CURVE public keys (CURVE topologies
	// only); curveKeysMissing is true when a paused topology lacks a key
	// Secret the keys phase did not create. Set by keys.
	curveKeys        render.CurvePublicKeys
	curveKeysMissing bool

	// desired are the children the topology should have. Set by render.
	desired []render.Object

	// refused holds what the API server refused (or would refuse for
	// certain), as errors on the spec field each refused child field was
	// rendered from; when set, no child was written. Reported as InvalidSpec.
	// Set by apply.
	refused field.ErrorList

	// applyErr is the first error writing or deleting a child that is not
	// a refusal of the spec (transient, or after other children were
	// written); it names the child. Set by apply and prune.
	applyErr error

	// stalled is true when a child keeps failing: it was refused, or it
	// failed stalledFailures times in a row or for stalledAfter. Set by
	// apply and prune.
	stalled bool

	// applied is the metadata.generation that this reconcile's apply
	// returned for each component's workload, by component name; a
	// workload observed at an older generation is a stale read. Set by
	// apply.
	applied map[string]int64

	// requeueAfter asks for another reconcile: when a child's backoff
	// period ends, or soon when the cache lags behind our own writes.
	// Set by apply, prune and observe through requeue.
	requeueAfter time.Duration

	// internalErr is an unexpected error whose details belong in the log,
	// not in status. Set by any phase.
	internalErr error

	// workloads are the observed states of the components' Deployments or
	// StatefulSets, by component name; a missing workload has no entry.
	// Set by observe.
	workloads map[string]workload

	// links is the link poller's latest report of the topology's pods, nil
	// before the first one (or without a poller). Set by observeLinks.
	links *linkpoll.TopologyReport
}

// requeue asks for a reconcile after d at the latest.
func (s *scope) requeue(d time.Duration) {
	if d > 0 && (s.requeueAfter == 0 || d < s.requeueAfter) {
		s.requeueAfter = d
	}
}

// workload is the part of a Deployment's or StatefulSet's state that
// readiness depends on.
type workload struct {
	kind               render.Kind
	generation         int64
	observedGeneration int64
	replicas           int32 // status.replicas: pods that exist, old or new
	updated            int32
	// specReplicas is the workload's spec.replicas (1 when unset): the
	// desired count of a component whose replicas someone else owns.
	specReplicas int32
	ready        int32
	available    int32
	terminating  int32
	// updateRevision and currentRevision are a StatefulSet's: the rollout is
	// complete when they are equal.
	updateRevision  string
	currentRevision string
	// appliedGeneration is the generation our apply produced in this
	// reconcile (0 when it wrote nothing); a lower generation is a stale
	// read of the cache.
	appliedGeneration int64
}

// rolledOut reports whether the workload's controller has caught up with
// its spec at desired replicas: the current generation observed, every
// replica updated and no other left (a StatefulSet: its update revision
// current).
func (w workload) rolledOut(desired int32) bool {
	return w.observedGeneration >= w.generation && w.updated == desired && w.replicas == desired && w.terminating == 0 &&
		(w.kind != render.KindStatefulSet || w.updateRevision == w.currentRevision)
}

// allReady reports whether desired replicas are ready and available.
func (w workload) allReady(desired int32) bool { return w.ready == desired && w.available == desired }

// settled reports whether the workload is rolled out with every replica
// of its own spec.replicas ready.
func (w workload) settled() bool { return w.rolledOut(w.specReplicas) && w.allReady(w.specReplicas) }

// settled reports whether a Deployment or StatefulSet is settled (see
// workload.settled); false for any other object.
func settled(obj client.Object) bool {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return deploymentWorkload(o).settled()
	case *appsv1.StatefulSet:
		return statefulSetWorkload(o).settled()
	default:
		return false
	}
}

// readWorkload reads component c's workload, the Deployment or StatefulSet
// render.WorkloadKind chooses, named render.ObjectName, from reader. The
// error is the reader's (NotFound when the workload does not exist yet).
func readWorkload(ctx context.Context, reader client.Reader, t *zmqv1.ZMQTopology, c *zmqv1.Component, opts ...client.GetOption) (workload, error) {
	key := client.ObjectKey{Namespace: t.Namespace, Name: render.ObjectName(t, c)}
	if render.WorkloadKind(c) == render.KindStatefulSet {
		sts := &appsv1.StatefulSet{}
		if err := reader.Get(ctx, key, sts, opts...); err != nil {
			return workload{}, err
		}
		return statefulSetWorkload(sts), nil
	}
	d := &appsv1.Deployment{}
	if err := reader.Get(ctx, key, d, opts...); err != nil {
		return workload{}, err
	}
	return deploymentWorkload(d), nil
}

func deploymentWorkload(d *appsv1.Deployment) workload {
	w := workload{
		kind:               render.KindDeployment,
		specReplicas:       specReplicas(d.Spec.Replicas),
		generation:         d.Generation,
		observedGeneration: d.Status.ObservedGeneration,
		replicas:           d.Status.Replicas,
		updated:            d.Status.UpdatedReplicas,
		ready:              d.Status.ReadyReplicas,
		available:          d.Status.AvailableReplicas,
	}
	if d.Status.TerminatingReplicas != nil {
		w.terminating = *d.Status.TerminatingReplicas
	}
	return w
}

func statefulSetWorkload(s *appsv1.StatefulSet) workload {
	return workload{
		kind:               render.KindStatefulSet,
		specReplicas:       specReplicas(s.Spec.Replicas),
		generation:         s.Generation,
		observedGeneration: s.Status.ObservedGeneration,
		replicas:           s.Status.Replicas,
		updated:            s.Status.UpdatedReplicas,
		ready:              s.Status.ReadyReplicas,
		available:          s.Status.AvailableReplicas,
		updateRevision:     s.Status.UpdateRevision,
		currentRevision:    s.Status.CurrentRevision,
	}
}

// specReplicas is a workload's spec.replicas, which the API server
// defaults to 1.
func specReplicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}
