package linkpoll

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// SlimPod is the cache transform for the pods the poller reads (see
// controllers.CacheOptions): it keeps what target and podReady look at and
// drops the rest, so that a cache of every topology pod costs a few hundred
// bytes per pod instead of the several KiB of a full pod with its
// containers, environment, volumes and managed fields.
//
// Kept: name, namespace, UID, resource version, labels, owner references
// and deletion timestamp; the sidecar container's name and ports (as
// declared in init or app containers); the phase, pod IP and Ready
// condition. Anything else is zero in the cached object. Objects that are
// not pods are returned as they are.
func SlimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{TypeMeta: pod.TypeMeta}
	slim.Name, slim.Namespace, slim.UID = pod.Name, pod.Namespace, pod.UID
	slim.ResourceVersion, slim.Generation = pod.ResourceVersion, pod.Generation
	slim.Labels, slim.OwnerReferences = pod.Labels, pod.OwnerReferences
	slim.DeletionTimestamp = pod.DeletionTimestamp
	slim.Spec.InitContainers = sidecarOnly(pod.Spec.InitContainers)
	slim.Spec.Containers = sidecarOnly(pod.Spec.Containers)
	slim.Status.Phase, slim.Status.PodIP = pod.Status.Phase, pod.Status.PodIP
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			slim.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	return slim, nil
}

// sidecarOnly keeps the name and ports of the sidecar container, if any.
func sidecarOnly(cs []corev1.Container) []corev1.Container {
	for _, c := range cs {
		if c.Name == render.SidecarContainer {
			return []corev1.Container{{Name: c.Name, Ports: c.Ports}}
		}
	}
	return nil
}
