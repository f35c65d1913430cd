package controllers

import (
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
func CacheOptions() cache.Options {
	req, err := labels.NewRequirement(render.LabelTopology, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant requirement: cannot fail
	}
	children := cache.ByObject{Label: labels.NewSelector().Add(*req)}
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:  children,
			&appsv1.StatefulSet{}: children,
			&corev1.Service{}:     children,
			&corev1.ConfigMap{}:   children,
		},
	}
}
