package render

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

var npOpts = NetworkPolicyOptions{
	OperatorNamespace:    "zmq-system",
	OperatorPodLabels:    map[string]string{"app.kubernetes.io/name": "zmq-operator"},
	MonitoringNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"monitoring": "true"}},
}

// renderedPolicy builds the NetworkPolicy of component name and decodes it
// into the API type, as the API server would store it.
func renderedPolicy(t *testing.T, z *zmqv1.ZMQTopology, name string, opts NetworkPolicyOptions) *networkingv1.NetworkPolicy {
	t.Helper()
	for i := range z.Spec.Components {
		if z.Spec.Components[i].Name != name {
			continue
		}
		raw, err := json.Marshal(NetworkPolicy(z, &z.Spec.Components[i], opts))
		if err != nil {
			t.Fatal(err)
		}
		np := &networkingv1.NetworkPolicy{}
		if err := json.Unmarshal(raw, np); err != nil {
			t.Fatal(err)
		}
		return np
	}
	t.Fatalf("no component %q", name)
	return nil
}

// rules summarises the ingress rules as "<ports> <- <peers>", one string
// per rule, peers described by peerString.
func rules(np *networkingv1.NetworkPolicy) []string {
	var out []string
	for _, r := range np.Spec.Ingress {
		var ports, peers []string
		for _, p := range r.Ports {
			ports = append(ports, fmt.Sprintf("%s/%s", *p.Protocol, p.Port.String()))
		}
		for _, p := range r.From {
			peers = append(peers, peerString(p))
		}
		out = append(out, strings.Join(ports, ",")+" <- "+strings.Join(peers, " | "))
	}
	return out
}

func peerString(p networkingv1.NetworkPolicyPeer) string {
	var parts []string
	if p.NamespaceSelector != nil {
		parts = append(parts, "ns"+selectorString(p.NamespaceSelector))
	}
	if p.PodSelector != nil {
		parts = append(parts, "pod"+selectorString(p.PodSelector))
	}
	if p.IPBlock != nil {
		parts = append(parts, "cidr="+p.IPBlock.CIDR+" except="+strings.Join(p.IPBlock.Except, ","))
	}
	return strings.Join(parts, " ")
}

func selectorString(s *metav1.LabelSelector) string {
	var kv []string
	for k, v := range s.MatchLabels {
		kv = append(kv, k+"="+v)
	}
	for _, r := range s.MatchExpressions {
		kv = append(kv, fmt.Sprintf("%s %s %v", r.Key, r.Operator, r.Values))
	}
	sort.Strings(kv)
	return "{" + strings.Join(kv, ",") + "}"
}

const (
	operatorPeer   = "ns{kubernetes.io/metadata.name=zmq-system} pod{app.kubernetes.io/name=zmq-operator}"
	monitoringPeer = "ns{monitoring=true}"
)

func TestNetworkPolicy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		change    func(z *zmqv1.ZMQTopology)
		component string
		opts      NetworkPolicyOptions
		want      []string
	}{
		{
			name:      "a bound socket admits its one connecting component; the sidecar port the operator and monitoring",
			component: "pub", opts: npOpts,
			want: []string{
				"TCP/7000 <- pod{zmq.topology.dev/component=sub,zmq.topology.dev/topology=t}",
				"TCP/9917 <- " + operatorPeer + " | " + monitoringPeer,
			},
		},
		{
			name:      "a device: a socket nothing connects to gets no rule (closed); the device metrics port joins the sidecar's",
			component: "fwd", opts: npOpts,
			want: []string{
				"TCP/7001 <- pod{zmq.topology.dev/component=pub,zmq.topology.dev/topology=t}",
				"TCP/9917,TCP/9918 <- " + operatorPeer + " | " + monitoringPeer,
			},
		},
		{
			name:      "a component binding nothing still guards its sidecar port",
			component: "sub", opts: npOpts,
			want: []string{"TCP/9917 <- " + operatorPeer + " | " + monitoringPeer},
		},
		{
			name:      "no operator or monitoring peers: the sidecar port is closed too, not open to all",
			component: "pub", opts: NetworkPolicyOptions{},
			want: []string{"TCP/7000 <- pod{zmq.topology.dev/component=sub,zmq.topology.dev/topology=t}"},
		},
		{
			name:      "operator labels without its namespace give no operator peer",
			component: "sub", opts: NetworkPolicyOptions{OperatorPodLabels: npOpts.OperatorPodLabels},
			want: nil,
		},
		{
			name:      "an empty monitoring selector is every namespace",
			component: "sub", opts: NetworkPolicyOptions{MonitoringNamespaces: &metav1.LabelSelector{}},
			want: []string{"TCP/9917 <- ns{}"},
		},
		{
			name: "every component connecting to a socket is a peer, once each, in spec order; allowFrom follows",
			change: func(z *zmqv1.ZMQTopology) {
				fwd := &z.Spec.Components[1]
				fwd.Sockets[1].Bind.AllowFrom = []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.1.0.0/16", Except: []string{"10.1.2.0/24"}}},
					{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}},
						PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"x"}}}}},
				}
				sub := &z.Spec.Components[2]
				sub.Sockets = append(sub.Sockets,
					zmqv1.Socket{Name: "b1", Type: zmqv1.SUB, Connect: &zmqv1.ConnectSpec{Component: "fwd", Socket: "backend"}},
					zmqv1.Socket{Name: "b2", Type: zmqv1.SUB, Connect: &zmqv1.ConnectSpec{Component: "fwd", Socket: "backend"}})
				pub := &z.Spec.Components[0]
				pub.Sockets = append(pub.Sockets,
					zmqv1.Socket{Name: "self", Type: zmqv1.SUB, Connect: &zmqv1.ConnectSpec{Component: "fwd", Socket: "backend"}})
			},
			component: "fwd", opts: NetworkPolicyOptions{},
			want: []string{
				"TCP/7001 <- pod{zmq.topology.dev/component=pub,zmq.topology.dev/topology=t}",
				"TCP/7002 <- pod{zmq.topology.dev/component=pub,zmq.topology.dev/topology=t}" +
					" | pod{zmq.topology.dev/component=sub,zmq.topology.dev/topology=t}" +
					" | cidr=10.1.0.0/16 except=10.1.2.0/24" +
					" | ns{team=b} pod{app In [x]}",
			},
		},
		{
			name: "an address outside the topology needs no ingress rule at the connector",
			change: func(z *zmqv1.ZMQTopology) {
				z.Spec.Components[2].Sockets = z.Spec.Components[2].Sockets[1:] // only tcp://legacy:9
			},
			component: "pub", opts: NetworkPolicyOptions{},
			want: nil, // nobody connects to pub/out any more: its port closes
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := fixture()
			if tc.change != nil {
				tc.change(z)
			}
			np := renderedPolicy(t, z, tc.component, tc.opts)
			if got := rules(np); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ingress rules =\n%q\nwant\n%q", got, tc.want)
			}
			// A rule without peers admits every source: never render one.
			for i, r := range np.Spec.Ingress {
				if len(r.From) == 0 || len(r.Ports) == 0 {
					t.Errorf("ingress[%d] = %+v: a rule needs both peers and ports", i, r)
				}
			}
			if !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
				t.Errorf("policyTypes = %v, want [Ingress] only", np.Spec.PolicyTypes)
			}
		})
	}
}

func TestNetworkPolicyIdentity(t *testing.T) {
	z := fixture()
	np := renderedPolicy(t, z, "pub", npOpts)
	if np.Name != "t-pub" || np.Namespace != "ns" {
		t.Errorf("name = %s/%s, want ns/t-pub", np.Namespace, np.Name)
	}
	if want := map[string]string{LabelTopology: "t", LabelComponent: "pub"}; !reflect.DeepEqual(np.Spec.PodSelector.MatchLabels, want) || len(np.Spec.PodSelector.MatchExpressions) > 0 {
		t.Errorf("podSelector = %+v, want matchLabels %v", np.Spec.PodSelector, want)
	}
	if np.Labels[LabelTopology] != "t" || np.Labels[LabelManagedBy] != ManagedBy {
		t.Errorf("labels = %v: the prune phase finds children by the topology label", np.Labels)
	}
	if len(np.OwnerReferences) != 1 || np.OwnerReferences[0].UID != "uid-1" || !ptr.Deref(np.OwnerReferences[0].Controller, false) {
		t.Errorf("ownerReferences = %+v, want the topology as controller", np.OwnerReferences)
	}
}
