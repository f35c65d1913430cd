package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// Services renders the Services in front of a component's bound sockets:
// none when it binds nothing; a ClusterIP Service, through which connectors
// reach any one ready replica; and, for a per-replica component (see
// PerReplica), also a headless Service that gives each StatefulSet pod a DNS
// name. The headless Service publishes pods before they are ready: a
// connector reaches a replica through its own name and ZeroMQ retries a
// refused connection by itself, whereas a name that is missing until the
// pod is ready gets cached as NXDOMAIN by the cluster's DNS (30 s in
// common set-ups), which would keep connectors away from a new or restarted
// replica long after it serves.
func Services(t *zmqv1.ZMQTopology, c *zmqv1.Component) []*corev1ac.ServiceApplyConfiguration {
	var out []*corev1ac.ServiceApplyConfiguration
	if !bindsAny(c) {
		return nil
	}
	out = append(out, service(t, c, ObjectName(t, c), corev1ac.ServiceSpec().WithType(corev1.ServiceTypeClusterIP)))
	if PerReplica(c) {
		out = append(out, service(t, c, HeadlessServiceName(t, c), corev1ac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithPublishNotReadyAddresses(true)))
	}
	return out
}

func service(t *zmqv1.ZMQTopology, c *zmqv1.Component, name string, spec *corev1ac.ServiceSpecApplyConfiguration) *corev1ac.ServiceApplyConfiguration {
	for _, s := range c.Sockets {
		if s.Bind == nil {
			continue
		}
		spec.WithPorts(corev1ac.ServicePort().
			WithName(s.Name).
			WithProtocol(corev1.ProtocolTCP).
			WithPort(s.Bind.Port).
			WithTargetPort(intstr.FromInt32(s.Bind.Port)))
	}
	return corev1ac.Service(name, t.Namespace).
		WithLabels(Labels(t, c)).
		WithOwnerReferences(ownerReference(t)).
		WithSpec(spec.WithSelector(SelectorLabels(t, c)))
}
