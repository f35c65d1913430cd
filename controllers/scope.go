package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// scope carries one reconcile's state between its phases. The comment on
// each field names the phase that sets it.
type scope struct {
	// topology is the object being reconciled; original is its copy as read,
	// against which the status patch is computed. Set by Reconcile.
	topology *zmqv1.ZMQTopology
	original *zmqv1.ZMQTopology

	// invalid holds the graph errors; when set, nothing is rendered, applied
	// or pruned. Set by validate.
	invalid field.ErrorList

	// desired are the children the topology should have. Set by render.
	desired []render.Object

	// applyErr is the first error writing a child; it names the child.
	// Set by apply and prune.
	applyErr error

	// internalErr is an unexpected error whose details belong in the log,
	// not in status. Set by any phase.
	internalErr error

	// workloads are the observed states of the components' Deployments or
	// StatefulSets, by component name; a missing workload has no entry.
	// Set by observe.
	workloads map[string]workload
}

// workload is the part of a Deployment's or StatefulSet's state that
// readiness depends on.
type workload struct {
	kind               render.Kind
	generation         int64
	observedGeneration int64
	replicas           int32 // status.replicas: pods that exist, old or new
	updated            int32
	ready              int32
	available          int32
	terminating        int32
}

func deploymentWorkload(d *appsv1.Deployment) workload {
	w := workload{
		kind:               render.KindDeployment,
		generation:         d.Generation,
		observedGeneration: d.Status.ObservedGeneration,
		replicas:           d.Status.Replicas,
		updated:            d.Status.UpdatedReplicas,
		ready:              d.Status.ReadyReplicas,
		available:          d.Status.AvailableReplicas,
	}
	if d.Status.TerminatingReplicas != nil {
		w.terminating = *d.Status.TerminatingReplicas
	}
	return w
}

func statefulSetWorkload(s *appsv1.StatefulSet) workload {
	return workload{
		kind:               render.KindStatefulSet,
		generation:         s.Generation,
		observedGeneration: s.Status.ObservedGeneration,
		replicas:           s.Status.Replicas,
		updated:            s.Status.UpdatedReplicas,
		ready:              s.Status.ReadyReplicas,
		available:          s.Status.AvailableReplicas,
	}
}
