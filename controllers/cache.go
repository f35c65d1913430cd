package controllers

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// CacheOptions limits the manager's cache of child kinds (and of pods, which
// the link poller reads) to objects that carry the topology label, so that
// the operator does not hold every ConfigMap, Service, Deployment,
// NetworkPolicy and Pod of the cluster in memory.
//
// With namespaces given (namespaced mode, --watch-namespaces), the cache of
// every namespaced kind (topologies and children alike) lists and watches
// those namespaces only, one informer per namespace, so the operator needs
// no cluster-wide permission on them and never sees, let alone touches, a
// topology elsewhere. The child kinds keep their label filter in each
// namespace. Without namespaces it watches the whole cluster.
func CacheOptions(namespaces ...string) cache.Options {
	req, err := labels.NewRequirement(render.LabelTopology, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant requirement: cannot fail
	}
	children := cache.ByObject{Label: labels.NewSelector().Add(*req), Transform: slimChild}
	o := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:            children,
			&appsv1.StatefulSet{}:           children,
			&corev1.Service{}:               children,
			&corev1.ConfigMap{}:             children,
			&policyv1.PodDisruptionBudget{}: children,
			&networkingv1.NetworkPolicy{}:   children,
			// Pods are read by the link poller only, and only the few
			// fields it reads are kept.
			&corev1.Pod{}: {Label: children.Label, Transform: linkpoll.SlimPod},
		},
		// Topologies are kept whole but for what nobody here reads. Not
		// through ByObject, which would need the API server to serve the
		// kind before the manager can even be created.
		DefaultTransform: slimTopology,
	}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// WatchNamespaces returns the namespaces of namespaced mode from the
// --watch-namespaces flag or, when the flag is empty, the WATCH_NAMESPACE
// environment variable: both are comma-separated lists; blanks and
// repeats are dropped. None means the whole cluster.
func WatchNamespaces(flagValue, env string) []string {
	v := flagValue
	if strings.TrimSpace(v) == "" {
		v = env
	}
	var out []string
	seen := map[string]bool{}
	for _, ns := range strings.Split(v, ",") {
		ns = strings.TrimSpace(ns)
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		out = append(out, ns)
	}
	return out
}

// NewUnlabelledCache returns a reader of the metadata of every object of a
// child kind that lacks the topology label, in the given namespaces (none:
// the whole cluster), and adds the metadata-only cache behind it to the
// manager, which starts it with its own cache and waits for it to sync
// before any reconcile.
//
// The manager's cache holds only labelled children, so a name taken by
// someone else's object is invisible to it; this cache is how the apply
// phase refuses such an object without asking the API server before each
// create. It holds names, UIDs and owner references only (labels,
// annotations and managed fields are dropped), and none of the operator's
// own children, which carry the label. Only an object created in the
// moment between this cache's last event and the apply can slip through,
// as it could between a GET and the apply.
func NewUnlabelledCache(mgr manager.Manager, namespaces ...string) (client.Reader, error) {
	req, err := labels.NewRequirement(render.LabelTopology, selection.DoesNotExist, nil)
	if err != nil {
		return nil, err
	}
	o := cache.Options{
		HTTPClient:           mgr.GetHTTPClient(),
		Scheme:               mgr.GetScheme(),
		Mapper:               mgr.GetRESTMapper(),
		DefaultLabelSelector: labels.NewSelector().Add(*req),
		DefaultTransform:     keepIdentity,
	}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := cache.New(mgr.GetConfig(), o)
	if err != nil {
		return nil, fmt.Errorf("creating the cache of unlabelled objects: %w", err)
	}
	for _, kind := range render.Kinds {
		if _, err := c.GetInformer(context.Background(), kinds[kind].metadata()); err != nil {
			return nil, fmt.Errorf("watching unlabelled %ss: %w", kind, err)
		}
	}
	if err := mgr.Add(runnableCache{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// runnableCache lets the manager start a cache in its group of caches,
// which it waits for before starting controllers.
type runnableCache struct{ cache.Cache }

func (c runnableCache) GetCache() cache.Cache { return c.Cache }

// lastAppliedAnnotation is where client-side `kubectl apply` keeps a copy
// of the whole object it applied.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// slimTopology is the cache transform of topologies, idempotent: it drops
// their managed fields and kubectl's last-applied copy, which can each be
// as large as the spec itself and which the reconciler never reads. The
// only write the operator makes to a topology is a merge patch of its
// status computed between two copies of the cached object, so what the
// cache leaves out is never written back. Other objects are returned as
// they are.
func slimTopology(obj any) (any, error) {
	if t, ok := obj.(*zmqv1.ZMQTopology); ok {
		t.ManagedFields = nil
		delete(t.Annotations, lastAppliedAnnotation) // the informer's own copy
	}
	return obj, nil
}

// keepIdentity drops all metadata but what identifies an object and its
// controller.
func keepIdentity(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		m.SetAnnotations(nil)
		m.SetLabels(nil)
	}
	return obj, nil
}
