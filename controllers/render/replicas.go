package render

import (
	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// This file owns who sets a workload's spec.replicas.
//
// By default the operator does: it applies spec.replicas from the
// component's replicas with server-side apply and force, so a change by
// anyone else is undone at the next reconcile. With autoscaling.mode
// External it does not: the rendered Deployment leaves spec.replicas out,
// so the operator's field manager does not own it and an HPA, KEDA or
// `kubectl scale` (which write the scale subresource under their own field
// managers) keep the count they set.
//
// Leaving a field out of an apply makes the API server remove it when the
// applier was its only owner, which would reset the Deployment to one
// replica. So before the operator first applies a Deployment without
// spec.replicas (when it creates it, or when the component switches to
// External), it hands the field over: the replica count is applied under a
// second field manager, ReplicasHandoverManager, which then shares the
// field, and the main apply can drop it (the same hand-over the
// Kubernetes documentation describes for moving replicas to an HPA).
// Whoever scales the Deployment afterwards takes the field from that
// manager. A built-in autoscaler (issue 12, item 2b) can reuse this: it
// scales through the scale subresource like any external one.

// ReplicasHandoverManager is the field manager that holds a workload's
// spec.replicas between the operator giving it up and an autoscaler
// taking it.
const ReplicasHandoverManager = ManagedBy + "-replicas-handover"

// OwnsReplicas reports whether the operator sets spec.replicas of the
// component's workload.
func OwnsReplicas(c *zmqv1.Component) bool { return !c.ExternalReplicas() }

// InitialReplicas is the replica count a workload of a component scaled by
// someone else is created with, or handed over with; nil when the operator
// owns the count.
func InitialReplicas(c *zmqv1.Component) *int32 {
	if OwnsReplicas(c) {
		return nil
	}
	n := Replicas(c)
	return &n
}
