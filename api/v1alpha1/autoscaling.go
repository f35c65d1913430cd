package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ExternalReplicas reports whether another controller owns the component's
// replica count (autoscaling.mode External): the operator then leaves
// spec.replicas of its workload alone after creating it.
func (c *Component) ExternalReplicas() bool {
	return c.Autoscaling != nil && c.Autoscaling.Mode == AutoscalingExternal
}

// validateAutoscaling checks that a component handed to an external scaler
// can be scaled without the operator: none of its sockets is a PAIR (one
// replica at most), and no component of the topology connects to its bound
// sockets, whose connectors list one endpoint per replica and so would have
// to be re-rendered (and restarted) on every scale. Components that only
// connect, or bind sockets reached from outside the topology, qualify.
func validateAutoscaling(t *ZMQTopology) field.ErrorList {
	comps := field.NewPath("spec", "components")
	var errs field.ErrorList
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		if c.Autoscaling == nil {
			continue
		}
		mp := comps.Index(i).Child("autoscaling", "mode")
		if c.Autoscaling.Mode != AutoscalingExternal {
			errs = append(errs, field.NotSupported(mp, c.Autoscaling.Mode, []AutoscalingMode{AutoscalingExternal}))
			continue
		}
		for _, s := range c.Sockets {
			if s.Type == PAIR {
				errs = append(errs, field.Invalid(mp, c.Autoscaling.Mode,
					fmt.Sprintf("socket %q is a PAIR, which has exactly one peer, so its component cannot be scaled", s.Name)))
			}
		}
		for _, from := range connectorsOf(t, c.Name) {
			errs = append(errs, field.Invalid(mp, c.Autoscaling.Mode,
				fmt.Sprintf("%s connects to this component, and its endpoints follow this component's replicas, which an external scaler would change without the operator", from)))
		}
	}
	return errs
}

// connectorsOf lists the sockets, as <component>/<socket>, that connect to
// a bound socket of the named component.
func connectorsOf(t *ZMQTopology, component string) []string {
	var out []string
	for _, c := range t.Spec.Components {
		for _, s := range c.Sockets {
			if s.Connect != nil && s.Connect.Component == component {
				out = append(out, c.Name+"/"+s.Name)
			}
		}
	}
	return out
}
