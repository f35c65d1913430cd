package controllers

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// CacheOptions limits the manager's cache of child kinds to objects that
// carry the topology label, so that the operator does not hold every
// ConfigMap, Service and Deployment of the cluster in memory.
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
	children := cache.ByObject{Label: labels.NewSelector().Add(*req)}
	o := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:  children,
			&appsv1.StatefulSet{}: children,
			&corev1.Service{}:     children,
			&corev1.ConfigMap{}:   children,
		},
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
