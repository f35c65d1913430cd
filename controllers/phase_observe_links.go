package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The link poller (controllers/linkpoll) reads the pods of topologies from
// the cache to find their sidecars.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// observeLinks takes the link poller's latest report of the topology's
// pods, for the roll-up into status.links (links.go). It never waits for a
// pod: the poller works on its own schedule, and a report that changes
// brings the topology back here through the poller's events.
func (r *ZMQTopologyReconciler) observeLinks(_ context.Context, s *scope) error {
	if r.Links != nil {
		s.links = r.Links.Report(client.ObjectKeyFromObject(s.topology))
	}
	return nil
}
