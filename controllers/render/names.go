package render

import (
	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// The names of a component's children are derived in api/v1alpha1
// (names.go), where Validate also checks them for collisions; these adapt
// them to the topology and component.

// ObjectName is the name of a component's workload and ClusterIP Service.
func ObjectName(t *zmqv1.ZMQTopology, c *zmqv1.Component) string {
	return zmqv1.ObjectName(t.Name, c.Name)
}

// HeadlessServiceName is the name of the headless Service that gives each
// replica of a StatefulSet component a DNS name.
func HeadlessServiceName(t *zmqv1.ZMQTopology, c *zmqv1.Component) string {
	return zmqv1.HeadlessServiceName(t.Name, c.Name)
}

// ConfigMapName is the name of the ConfigMap holding a component's resolved
// sockets.
func ConfigMapName(t *zmqv1.ZMQTopology, c *zmqv1.Component) string {
	return zmqv1.ConfigMapName(t.Name, c.Name)
}

// NetworkPolicyName is the name of the NetworkPolicy guarding a component's
// pods.
func NetworkPolicyName(t *zmqv1.ZMQTopology, c *zmqv1.Component) string {
	return zmqv1.NetworkPolicyName(t.Name, c.Name)
}
