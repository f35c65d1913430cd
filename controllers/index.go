package controllers

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// indexTopology is the cache index of a child by the value of its
// zmq.topology.dev/topology label. Listing a topology's children through
// it (childrenOf) costs the size of that topology, where a label selector
// filters every object of the kind in the namespace: with 1,000 topologies
// in a namespace, each reconcile's lists visited 16,000 objects.
const indexTopology = "index.zmq.topology.dev/topology"

// addTopologyIndex registers indexTopology for every child kind on the
// manager's cache. It must run before the cache starts (SetupWithManager).
func addTopologyIndex(ctx context.Context, fi client.FieldIndexer) error {
	for _, kind := range render.Kinds {
		err := fi.IndexField(ctx, kinds[kind].newObject(), indexTopology, func(o client.Object) []string {
			if v := o.GetLabels()[render.LabelTopology]; v != "" {
				return []string{v}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("indexing %ss by topology: %w", kind, err)
		}
	}
	return nil
}

// childrenOf selects, in a List through the reconciler's client, the
// objects labelled as children of t (whether t controls them is for the
// caller to check): through indexTopology when the client reads the
// manager's cache (SetupWithManager added the index), else by label, as
// the API server and a cache without the index understand it.
func (r *ZMQTopologyReconciler) childrenOf(t *zmqv1.ZMQTopology) []client.ListOption {
	if r.indexed {
		return []client.ListOption{client.InNamespace(t.Namespace), client.MatchingFields{indexTopology: t.Name}}
	}
	return []client.ListOption{client.InNamespace(t.Namespace), client.MatchingLabels{render.LabelTopology: t.Name}}
}
