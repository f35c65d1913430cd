package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// BacklogInputTypes are the socket types through which the replicas of a
// component share incoming work (load-balanced by the peer: PUSH to PULL,
// ROUTER or DEALER to REP and DEALER). Mode Backlog measures the backlog on
// a component's connecting sockets of these types; SUB is not one, since
// every subscriber gets every message and replicas never share it.
var BacklogInputTypes = []SocketType{PULL, REP, DEALER}

// IsBacklogInput reports whether a socket type is one of BacklogInputTypes.
func IsBacklogInput(t SocketType) bool {
	for _, b := range BacklogInputTypes {
		if t == b {
			return true
		}
	}
	return false
}

// Backlog autoscaling bounds, shared by the CRD's markers and Validate.
const (
	maxAutoscaleReplicas       = 1000
	maxStabilizationWindowSecs = 3600
)

// validateBacklog checks the fields of autoscaling.mode Backlog (path is
// spec.components[i].autoscaling): the bounds, the target and the rates
// the CRD's markers check, and what they cannot: the component is not a
// device and has a connecting socket of a BacklogInputTypes type to
// measure the backlog on. Components others connect to are refused by the
// rule every autoscaling mode shares (validateAutoscaling).
func validateBacklog(c *Component, path *field.Path) field.ErrorList {
	a := c.Autoscaling
	var errs field.ErrorList
	minimum := int32(1)
	if a.MinReplicas != nil {
		minimum = *a.MinReplicas
		errs = append(errs, inRange(path.Child("minReplicas"), *a.MinReplicas, 1, maxAutoscaleReplicas)...)
	}
	switch {
	case a.MaxReplicas == nil:
		errs = append(errs, field.Required(path.Child("maxReplicas"), "mode Backlog needs the most replicas it may run"))
	case *a.MaxReplicas < minimum:
		errs = append(errs, field.Invalid(path.Child("maxReplicas"), *a.MaxReplicas, fmt.Sprintf("must be at least minReplicas (%d)", minimum)))
	default:
		errs = append(errs, inRange(path.Child("maxReplicas"), *a.MaxReplicas, 1, maxAutoscaleReplicas)...)
	}
	switch q := a.TargetBacklogPerReplica; {
	case q == nil:
		errs = append(errs, field.Required(path.Child("targetBacklogPerReplica"), "mode Backlog needs the backlog in bytes one replica should carry, such as 64Ki"))
	case q.Sign() <= 0:
		errs = append(errs, field.Invalid(path.Child("targetBacklogPerReplica"), q.String(), "must be more than 0 bytes"))
	}
	if a.StabilizationWindowSeconds != nil {
		errs = append(errs, inRange(path.Child("stabilizationWindowSeconds"), *a.StabilizationWindowSeconds, 0, maxStabilizationWindowSecs)...)
	}
	if a.ScaleUpReplicasPerPeriod != nil {
		errs = append(errs, inRange(path.Child("scaleUpReplicasPerPeriod"), *a.ScaleUpReplicasPerPeriod, 1, maxAutoscaleReplicas)...)
	}
	if a.ScaleDownReplicasPerPeriod != nil {
		errs = append(errs, inRange(path.Child("scaleDownReplicasPerPeriod"), *a.ScaleDownReplicasPerPeriod, 1, maxAutoscaleReplicas)...)
	}
	mp := path.Child("mode")
	if c.Device != nil {
		errs = append(errs, field.Invalid(mp, a.Mode, "a device is not scaled on backlog"))
	}
	input := false
	for _, s := range c.Sockets {
		if s.Connect != nil && IsBacklogInput(s.Type) {
			input = true
		}
	}
	if !input && c.Device == nil {
		errs = append(errs, field.Invalid(mp, a.Mode, fmt.Sprintf("the backlog is measured on connecting sockets of type %v, and the component has none", BacklogInputTypes)))
	}
	return errs
}

// validateBacklogFieldsUnset refuses the fields of mode Backlog under
// another mode, where they would mean nothing.
func validateBacklogFieldsUnset(a *AutoscalingSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"minReplicas", a.MinReplicas != nil}, {"maxReplicas", a.MaxReplicas != nil},
		{"targetBacklogPerReplica", a.TargetBacklogPerReplica != nil}, {"stabilizationWindowSeconds", a.StabilizationWindowSeconds != nil},
		{"scaleUpReplicasPerPeriod", a.ScaleUpReplicasPerPeriod != nil}, {"scaleDownReplicasPerPeriod", a.ScaleDownReplicasPerPeriod != nil},
	} {
		if f.set {
			errs = append(errs, field.Forbidden(path.Child(f.name), fmt.Sprintf("applies to mode %s only", AutoscalingBacklog)))
		}
	}
	return errs
}

func inRange(p *field.Path, v, lo, hi int32) field.ErrorList {
	if v < lo || v > hi {
		return field.ErrorList{field.Invalid(p, v, fmt.Sprintf("must be between %d and %d", lo, hi))}
	}
	return nil
}
