package render

import (
	"k8s.io/apimachinery/pkg/util/intstr"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// WantsPodDisruptionBudget reports whether a component gets a
// PodDisruptionBudget: with podDisruptionBudget.mode Auto (the default)
// when it runs more than one replica or an external autoscaler may give it
// more. A single replica gets none: maxUnavailable 1 would not protect it,
// and a budget of 0 would block every node drain.
func WantsPodDisruptionBudget(c *zmqv1.Component) bool {
	if c.PodDisruptionBudget != nil && c.PodDisruptionBudget.Mode == zmqv1.PodDisruptionBudgetDisabled {
		return false
	}
	return Replicas(c) > 1 || c.ExternalReplicas()
}

// PodDisruptionBudget renders a component's PodDisruptionBudget, named
// like its workload: voluntary disruptions (node drains, cluster
// autoscaler scale-downs) evict at most one of its pods at a time, so the
// others keep serving its peers while it moves.
func PodDisruptionBudget(t *zmqv1.ZMQTopology, c *zmqv1.Component) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	return policyv1ac.PodDisruptionBudget(ObjectName(t, c), t.Namespace).
		WithLabels(Labels(t, c)).
		WithOwnerReferences(ownerReference(t)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMaxUnavailable(intstr.FromInt32(1)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(t, c))))
}
