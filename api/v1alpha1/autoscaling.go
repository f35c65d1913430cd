package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ExternalReplicas reports whether something other than the reconciler's
// apply owns the component's replica count: another controller
// (autoscaling.mode External) or the operator's backlog autoscaler
// (mode Backlog), both through the workload's scale subresource. The
// reconciler then leaves spec.replicas of its workload alone after
// creating it.
func (c *Component) ExternalReplicas() bool {
	return c.Autoscaling != nil && (c.Autoscaling.Mode == AutoscalingExternal || c.Autoscaling.Mode == AutoscalingBacklog)
}

// BacklogAutoscaled reports whether the operator scales the component on
// its backlog (autoscaling.mode Backlog).
func (c *Component) BacklogAutoscaled() bool {
	return c.Autoscaling != nil && c.Autoscaling.Mode == AutoscalingBacklog
}

// validateAutoscaling checks that a component handed to a scaler (External
// or Backlog) can be scaled without re-rendering anything: none of its sockets is a PAIR (one
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
		ap := comps.Index(i).Child("autoscaling")
		mp := ap.Child("mode")
		switch c.Autoscaling.Mode {
		case AutoscalingExternal:
			errs = append(errs, validateBacklogFieldsUnset(c.Autoscaling, ap)...)
		case AutoscalingBacklog:
			errs = append(errs, validateBacklog(c, ap)...)
		default:
			errs = append(errs, field.NotSupported(mp, c.Autoscaling.Mode, []AutoscalingMode{AutoscalingExternal, AutoscalingBacklog}))
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
				fmt.Sprintf("%s connects to this component, and its endpoints follow this component's replicas, which a scaler would change without re-rendering them", from)))
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
