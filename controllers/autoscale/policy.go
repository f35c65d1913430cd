package autoscale

import (
	"time"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// PolicyFor returns the policy of a component with autoscaling.mode
// Backlog, and false for any other component (or one whose spec lacks the
// fields Validate requires). Unset fields take the Policy defaults;
// stabilizationWindowSeconds 0 means no window.
func PolicyFor(c *zmqv1.Component) (Policy, bool) {
	if !c.BacklogAutoscaled() {
		return Policy{}, false
	}
	a := c.Autoscaling
	if a.MaxReplicas == nil || a.TargetBacklogPerReplica == nil || a.TargetBacklogPerReplica.Sign() <= 0 {
		return Policy{}, false
	}
	p := Policy{MinReplicas: 1, MaxReplicas: *a.MaxReplicas, TargetPerReplica: float64(a.TargetBacklogPerReplica.Value())}
	if a.MinReplicas != nil {
		p.MinReplicas = *a.MinReplicas
	}
	if w := a.StabilizationWindowSeconds; w != nil {
		p.StabilizationWindow = time.Duration(*w) * time.Second
		if *w == 0 {
			p.StabilizationWindow = -1
		}
	}
	if v := a.ScaleUpReplicasPerPeriod; v != nil {
		p.ScaleUpPods = *v
	}
	if v := a.ScaleDownReplicasPerPeriod; v != nil {
		p.ScaleDownPods = *v
	}
	return p, true
}
