package render

import (
	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// Name suffixes of a component's children. The workload and its ClusterIP
// Service take the bare name <topology>-<component>. The admission rules
// bound topology names to 30 characters and component names to 20, so every
// name fits a DNS label and a StatefulSet's pod and revision names.
const (
	headlessSuffix  = "-headless"
	configMapSuffix = "-zmq"
)

// ObjectName is the name of a component's workload and ClusterIP Service.
func ObjectName(t *zmqv1.ZMQTopology, c *zmqv1.Component) string {
	return t.Name + "-" + c.Name
}

// HeadlessServiceName is the name of the headless Service that gives each
// replica of a StatefulSet component a DNS name.
func HeadlessServiceName(t *zmqv1.ZMQTopology, c *zmqv1.Component) string {
	return ObjectName(t, c) + headlessSuffix
}

// ConfigMapName is the name of the ConfigMap holding a component's resolved
// sockets.
func ConfigMapName(t *zmqv1.ZMQTopology, c *zmqv1.Component) string {
	return ObjectName(t, c) + configMapSuffix
}
