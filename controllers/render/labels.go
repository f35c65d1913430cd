package render

import (
	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// Label keys set on every child object and pod of a topology. The
// zmq.topology.dev keys select a component's pods and find a topology's
// children when pruning; the app.kubernetes.io keys follow Kubernetes'
// recommended labels.
const (
	LabelTopology  = "zmq.topology.dev/topology"
	LabelComponent = "zmq.topology.dev/component"
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"

	// AnnotationConfigHash on the pod template of a component with
	// endpointUpdates: Live is a hash of its configuration without the
	// endpoints that follow target components (live.go), so that changes
	// the pods cannot follow in place still roll them.
	AnnotationConfigHash = "zmq.topology.dev/config-hash"

	// AnnotationAppliedHash on every child is a hash of the object the
	// operator applied last; with AnnotationAppliedFields, it tells the
	// operator that a child needs no write without keeping the child in
	// memory (controllers/changedetect.go).
	AnnotationAppliedHash = "zmq.topology.dev/applied-hash"

	// AnnotationAppliedFields on every child is a digest of the fields the
	// object the operator applied last sets, as the API server records them
	// for the operator's field manager (controllers/changedetect.go).
	AnnotationAppliedFields = "zmq.topology.dev/applied-fields"

	// ManagedBy is the value of LabelManagedBy and the server-side apply
	// field owner of every child.
	ManagedBy = "zmq-operator"
)

// SelectorLabels are the immutable labels that select a component's pods.
func SelectorLabels(t *zmqv1.ZMQTopology, c *zmqv1.Component) map[string]string {
	return map[string]string{
		LabelTopology:  t.Name,
		LabelComponent: c.Name,
	}
}

// Labels are the labels of a component's children and pods.
func Labels(t *zmqv1.ZMQTopology, c *zmqv1.Component) map[string]string {
	l := SelectorLabels(t, c)
	l[LabelName] = c.Name
	l[LabelInstance] = ObjectName(t, c)
	l[LabelPartOf] = t.Name
	l[LabelManagedBy] = ManagedBy
	return l
}
