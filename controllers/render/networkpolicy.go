package render

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// NamespaceNameLabel is the label the API server sets on every Namespace
// to its own name; a namespace selector on it picks one namespace.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// NetworkPolicyOptions are the peers, outside any topology, that the
// rendered NetworkPolicies let reach the sidecar's port (SidecarPort:
// /metrics, /readyz, /status) and a device's metrics port
// (DeviceMetricsPort).
type NetworkPolicyOptions struct {
	// OperatorNamespace is the namespace of the operator's pods. With
	// OperatorPodLabels it lets the operator poll every pod's sidecar.
	// Empty (the operator runs outside the cluster): no operator peer.
	OperatorNamespace string
	// OperatorPodLabels select the operator's pods in OperatorNamespace.
	// Empty: no operator peer.
	OperatorPodLabels map[string]string
	// MonitoringNamespaces selects the namespaces whose pods (Prometheus)
	// may scrape the metrics ports. Nil: none; an empty selector: every
	// namespace.
	MonitoringNamespaces *metav1.LabelSelector
}

// NetworkPolicy renders the NetworkPolicy of one component of a topology
// whose policies are on (see ZMQTopology.NetworkPoliciesEnabled): named
// like its workload, it selects the component's pods and admits ingress
//
//   - on each bound port, from the pods of the components that declare a
//     connect to that socket and from the socket's bind.allowFrom peers; a
//     bound socket nothing may reach gets no rule, so its port is closed
//     (a rule without peers would admit everyone);
//   - on the sidecar's port, and a device's metrics port, from the
//     operator's pods and the monitoring namespaces (opts).
//
// Everything else addressed to the pods is dropped by the cluster's
// NetworkPolicy implementation; traffic from the pod's own node (kubelet
// probes) stays allowed, as the NetworkPolicy API requires. The policy
// covers ingress only: the operator cannot know every destination an
// application needs (cluster DNS, the API server, services outside the
// topology, connect.address endpoints), and a connection between two
// components is already filtered where it arrives. Components that bind
// nothing get a policy too, for the sidecar's port.
func NetworkPolicy(t *zmqv1.ZMQTopology, c *zmqv1.Component, opts NetworkPolicyOptions) *networkingv1ac.NetworkPolicyApplyConfiguration {
	spec := networkingv1ac.NetworkPolicySpec().
		WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(t, c))).
		WithPolicyTypes(networkingv1.PolicyTypeIngress)
	for _, s := range c.Sockets {
		if s.Bind == nil {
			continue
		}
		peers := connectorPeers(t, c, s.Name)
		for i := range s.Bind.AllowFrom {
			peers = append(peers, peerApply(&s.Bind.AllowFrom[i]))
		}
		if len(peers) == 0 {
			continue
		}
		spec.WithIngress(networkingv1ac.NetworkPolicyIngressRule().
			WithPorts(tcpPort(s.Bind.Port)).
			WithFrom(peers...))
	}
	if peers := agentPeers(opts); len(peers) > 0 {
		rule := networkingv1ac.NetworkPolicyIngressRule().WithPorts(tcpPort(zmqv1.SidecarPort))
		if c.Device != nil {
			rule.WithPorts(tcpPort(zmqv1.DeviceMetricsPort))
		}
		spec.WithIngress(rule.WithFrom(peers...))
	}
	return networkingv1ac.NetworkPolicy(NetworkPolicyName(t, c), t.Namespace).
		WithLabels(Labels(t, c)).
		WithOwnerReferences(ownerReference(t)).
		WithSpec(spec)
}

// connectorPeers are the pods of the components of t that connect to the
// bound socket c/socket, one peer per component, in spec order.
func connectorPeers(t *zmqv1.ZMQTopology, c *zmqv1.Component, socket string) []*networkingv1ac.NetworkPolicyPeerApplyConfiguration {
	var out []*networkingv1ac.NetworkPolicyPeerApplyConfiguration
	for i := range t.Spec.Components {
		from := &t.Spec.Components[i]
		for _, s := range from.Sockets {
			if s.Connect != nil && s.Connect.Component == c.Name && s.Connect.Socket == socket {
				out = append(out, networkingv1ac.NetworkPolicyPeer().
					WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(t, from))))
				break // one peer per component, however many of its sockets connect
			}
		}
	}
	return out
}

// agentPeers are the operator's pods and the monitoring namespaces.
func agentPeers(opts NetworkPolicyOptions) []*networkingv1ac.NetworkPolicyPeerApplyConfiguration {
	var out []*networkingv1ac.NetworkPolicyPeerApplyConfiguration
	if opts.OperatorNamespace != "" && len(opts.OperatorPodLabels) > 0 {
		out = append(out, networkingv1ac.NetworkPolicyPeer().
			WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{NamespaceNameLabel: opts.OperatorNamespace})).
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(opts.OperatorPodLabels)))
	}
	if opts.MonitoringNamespaces != nil {
		out = append(out, networkingv1ac.NetworkPolicyPeer().
			WithNamespaceSelector(selectorApply(opts.MonitoringNamespaces)))
	}
	return out
}

// peerApply converts a user's NetworkPolicyPeer (bind.allowFrom).
func peerApply(p *networkingv1.NetworkPolicyPeer) *networkingv1ac.NetworkPolicyPeerApplyConfiguration {
	out := networkingv1ac.NetworkPolicyPeer()
	if p.PodSelector != nil {
		out.WithPodSelector(selectorApply(p.PodSelector))
	}
	if p.NamespaceSelector != nil {
		out.WithNamespaceSelector(selectorApply(p.NamespaceSelector))
	}
	if p.IPBlock != nil {
		out.WithIPBlock(networkingv1ac.IPBlock().WithCIDR(p.IPBlock.CIDR).WithExcept(p.IPBlock.Except...))
	}
	return out
}

// selectorApply converts a label selector. An empty selector stays an
// empty (match-all) selector, not an absent one.
func selectorApply(s *metav1.LabelSelector) *metav1ac.LabelSelectorApplyConfiguration {
	out := metav1ac.LabelSelector()
	if len(s.MatchLabels) > 0 {
		out.WithMatchLabels(s.MatchLabels)
	}
	for _, r := range s.MatchExpressions {
		out.WithMatchExpressions(metav1ac.LabelSelectorRequirement().
			WithKey(r.Key).WithOperator(r.Operator).WithValues(r.Values...))
	}
	return out
}

func tcpPort(port int32) *networkingv1ac.NetworkPolicyPortApplyConfiguration {
	return networkingv1ac.NetworkPolicyPort().
		WithProtocol(corev1.ProtocolTCP).
		WithPort(intstr.FromInt32(port))
}
