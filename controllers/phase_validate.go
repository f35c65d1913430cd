package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// validate runs the graph rules. An invalid topology is reported (status
// and a Warning event) and the later phases leave every child as it is.
func (r *ZMQTopologyReconciler) validate(_ context.Context, s *scope) error {
	s.invalid = s.topology.Validate()
	if len(s.invalid) > 0 && !alreadyReportedInvalid(s.original) {
		r.Recorder.Eventf(s.topology, nil, corev1.EventTypeWarning, zmqv1.ReasonInvalidSpec, "Validate", "%s", invalidMessage(s.invalid))
	}
	return nil
}

// alreadyReportedInvalid is true when status already says that this
// generation is invalid, so the event is emitted once per bad edit rather
// than on every reconcile.
func alreadyReportedInvalid(t *zmqv1.ZMQTopology) bool {
	c := meta.FindStatusCondition(t.Status.Conditions, zmqv1.ConditionReady)
	return c != nil && c.Reason == zmqv1.ReasonInvalidSpec && c.ObservedGeneration == t.Generation
}
