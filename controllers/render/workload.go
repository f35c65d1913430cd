package render

import (
	appsv1 "k8s.io/api/apps/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// Deployment renders the workload of a component whose bound sockets (if
// any) are reached through one ClusterIP Service. spec.replicas is left out
// when another controller owns it (see OwnsReplicas).
func Deployment(t *zmqv1.ZMQTopology, c *zmqv1.Component, tpl *corev1ac.PodTemplateSpecApplyConfiguration) *appsv1ac.DeploymentApplyConfiguration {
	spec := appsv1ac.DeploymentSpec().
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(t, c))).
		WithTemplate(tpl)
	if OwnsReplicas(c) {
		spec.WithReplicas(Replicas(c))
	}
	if s := rolloutStrategy(c); s != nil {
		spec.WithStrategy(s)
	}
	return appsv1ac.Deployment(ObjectName(t, c), t.Namespace).
		WithLabels(Labels(t, c)).
		WithOwnerReferences(ownerReference(t)).
		WithSpec(spec)
}

// StatefulSet renders the workload of a per-replica component (see
// PerReplica): each pod gets a stable DNS name through the headless Service.
// Pods start in parallel: ZeroMQ connectors reconnect on their own, so
// ordered start-up would only slow scaling.
func StatefulSet(t *zmqv1.ZMQTopology, c *zmqv1.Component, tpl *corev1ac.PodTemplateSpecApplyConfiguration) *appsv1ac.StatefulSetApplyConfiguration {
	return appsv1ac.StatefulSet(ObjectName(t, c), t.Namespace).
		WithLabels(Labels(t, c)).
		WithOwnerReferences(ownerReference(t)).
		WithSpec(appsv1ac.StatefulSetSpec().
			WithReplicas(Replicas(c)). // never external: see PerReplica
			WithServiceName(HeadlessServiceName(t, c)).
			WithPodManagementPolicy(appsv1.ParallelPodManagement).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(t, c))).
			WithTemplate(tpl))
}
