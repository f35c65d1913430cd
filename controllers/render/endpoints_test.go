package render

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// How a connecting socket reaches a bound socket whose component has
// several replicas.
type reach int

const (
	each    reach = iota // one endpoint per replica, through the headless Service
	one                  // the ClusterIP Service: any one replica
	refused              // Validate refuses the pair at several replicas
)

// endpointCase is one RFC 37 pair, with the connecting and the bound type,
// against a bound socket of an application or of a device.
type endpointCase struct {
	connecting, bound zmqv1.SocketType
	device            zmqv1.DeviceType // "" for an application
	many              reach            // with several replicas; one replica is always the ClusterIP
	why               string
}

// endpointCases lists every ordered pair of ZMTP peers against an
// application, and every peer of every device socket.
var endpointCases = []endpointCase{
	// Applications.
	{zmqv1.PAIR, zmqv1.PAIR, "", refused, "a PAIR has exactly one peer"},
	{zmqv1.PUB, zmqv1.SUB, "", each, "each replica is a separate subscriber"},
	{zmqv1.PUB, zmqv1.XSUB, "", each, "each replica is a separate subscriber"},
	{zmqv1.XPUB, zmqv1.SUB, "", each, "each replica is a separate subscriber"},
	{zmqv1.XPUB, zmqv1.XSUB, "", each, "each replica is a separate subscriber"},
	{zmqv1.SUB, zmqv1.PUB, "", each, "a subscriber hears every publisher replica"},
	{zmqv1.SUB, zmqv1.XPUB, "", each, "a subscriber hears every publisher replica"},
	{zmqv1.XSUB, zmqv1.PUB, "", each, "a subscriber hears every publisher replica"},
	{zmqv1.XSUB, zmqv1.XPUB, "", each, "a subscriber hears every publisher replica"},
	{zmqv1.PUSH, zmqv1.PULL, "", each, "PUSH round-robins over every replica"},
	{zmqv1.PULL, zmqv1.PUSH, "", each, "a PUSH replica without a puller blocks"},
	{zmqv1.REQ, zmqv1.REP, "", each, "REQ round-robins over every replica (the ClusterIP would work, pinned to one)"},
	{zmqv1.REP, zmqv1.REQ, "", each, "every requesting replica needs a replier"},
	{zmqv1.REQ, zmqv1.ROUTER, "", each, "REQ round-robins over every replica"},
	{zmqv1.ROUTER, zmqv1.REQ, "", each, "every requesting replica needs a peer"},
	{zmqv1.DEALER, zmqv1.REP, "", each, "DEALER round-robins over every replica"},
	{zmqv1.REP, zmqv1.DEALER, "", each, "every dealing replica needs a replier"},
	{zmqv1.DEALER, zmqv1.ROUTER, "", each, "DEALER round-robins over every replica"},
	{zmqv1.ROUTER, zmqv1.DEALER, "", each, "every dealing replica needs a peer"},
	{zmqv1.DEALER, zmqv1.DEALER, "", each, "DEALER round-robins over every replica"},
	{zmqv1.ROUTER, zmqv1.ROUTER, "", each, "a ROUTER addresses each replica by its connection's routing id; through the ClusterIP it would reach one at random"},

	// Devices: a Forwarder's frontend is the only socket a fan-out sender
	// reaches through the ClusterIP; every other device socket is reached
	// on every replica, as an application's.
	{zmqv1.PUB, zmqv1.XSUB, zmqv1.Forwarder, one, "Forwarder replicas are equivalent relays: each message once"},
	{zmqv1.XPUB, zmqv1.XSUB, zmqv1.Forwarder, one, "Forwarder replicas are equivalent relays: each message once"},
	{zmqv1.SUB, zmqv1.XPUB, zmqv1.Forwarder, each, "each Forwarder replica relays a different publisher"},
	{zmqv1.XSUB, zmqv1.XPUB, zmqv1.Forwarder, each, "each Forwarder replica relays a different publisher"},
	{zmqv1.PUSH, zmqv1.PULL, zmqv1.Streamer, each, "PUSH round-robins over every Streamer replica"},
	{zmqv1.PULL, zmqv1.PUSH, zmqv1.Streamer, each, "a Streamer replica without a puller blocks"},
	{zmqv1.REQ, zmqv1.ROUTER, zmqv1.Queue, each, "clients spread over every Queue replica"},
	{zmqv1.DEALER, zmqv1.ROUTER, zmqv1.Queue, each, "clients spread over every Queue replica"},
	{zmqv1.ROUTER, zmqv1.ROUTER, zmqv1.Queue, each, "clients spread over every Queue replica"},
	{zmqv1.REP, zmqv1.DEALER, zmqv1.Queue, each, "a Queue replica without workers holds its requests"},
	{zmqv1.DEALER, zmqv1.DEALER, zmqv1.Queue, each, "a Queue replica without workers holds its requests"},
	{zmqv1.ROUTER, zmqv1.DEALER, zmqv1.Queue, each, "a Queue replica without workers holds its requests"},
}

// pairTopology connects component "a" (socket "c" of the connecting type,
// aReplicas) to component "b" (bReplicas), an application binding socket
// "s" or a device whose socket of the bound type the connect targets.
func pairTopology(tc endpointCase, aReplicas, bReplicas int32) (*zmqv1.ZMQTopology, string) {
	tpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
	b := zmqv1.Component{Name: "b", Replicas: ptr.To(bReplicas)}
	target := "s"
	if tc.device == "" {
		b.Template = tpl.DeepCopy()
		b.Sockets = []zmqv1.Socket{{Name: target, Type: tc.bound, Bind: &zmqv1.BindSpec{Port: 5000}}}
	} else {
		b.Device = &zmqv1.DeviceSpec{Type: tc.device}
		front, back, _ := zmqv1.DeviceLayout(tc.device)
		b.Sockets = []zmqv1.Socket{
			{Name: zmqv1.DeviceFrontend, Type: front, Bind: &zmqv1.BindSpec{Port: 5000}},
			{Name: zmqv1.DeviceBackend, Type: back, Bind: &zmqv1.BindSpec{Port: 5000}},
		}
		target = zmqv1.DeviceFrontend
		other := &b.Sockets[1]
		if back == tc.bound {
			target, other = zmqv1.DeviceBackend, &b.Sockets[0]
		}
		other.Bind.Port = 5001
	}
	a := zmqv1.Component{Name: "a", Replicas: ptr.To(aReplicas), Template: tpl.DeepCopy(), Sockets: []zmqv1.Socket{
		{Name: "c", Type: tc.connecting, Connect: &zmqv1.ConnectSpec{Component: "b", Socket: target}},
	}}
	return &zmqv1.ZMQTopology{
		ObjectMeta: metav1.ObjectMeta{Name: "t", Namespace: "ns"},
		Spec:       zmqv1.ZMQTopologySpec{Components: []zmqv1.Component{a, b}},
	}, target
}

// TestEndpointsOfEveryPair resolves every pair of ZMTP peers, against an
// application and against a device, with one and with several replicas on
// either side, and checks both the endpoints and whether Validate accepts
// the pair.
func TestEndpointsOfEveryPair(t *testing.T) {
	const n = 3
	for _, tc := range endpointCases {
		target := "app"
		if tc.device != "" {
			target = string(tc.device)
		}
		for _, replicas := range [][2]int32{{1, 1}, {n, 1}, {1, n}, {n, n}} {
			aReplicas, bReplicas := replicas[0], replicas[1]
			name := fmt.Sprintf("%s(x%d)->%s(x%d) %s", tc.connecting, aReplicas, tc.bound, bReplicas, target)
			t.Run(name, func(t *testing.T) {
				z, socket := pairTopology(tc, aReplicas, bReplicas)
				errs := z.Validate()
				if tc.many == refused && (aReplicas > 1 || bReplicas > 1) {
					if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "PAIR") {
						t.Fatalf("Validate() = %v; want the pair refused (%s)", errs, tc.why)
					}
					return
				}
				if len(errs) != 0 {
					t.Fatalf("Validate() = %v; want no errors", errs)
				}
				want := []string{"tcp://t-b.ns.svc.cluster.local:5000"}
				if bReplicas > 1 && tc.many == each {
					want = nil
					for i := range n {
						want = append(want, fmt.Sprintf("tcp://t-b-%d.t-b-headless.ns.svc.cluster.local:5000", i))
					}
				}
				got := Resolve(z, &z.Spec.Components[0], "cluster.local").Socket("c")
				if !reflect.DeepEqual(got.Endpoints, want) {
					t.Errorf("endpoints = %q; want %q (%s)", got.Endpoints, want, tc.why)
				}
				if got.Peer == nil || got.Peer.Socket != socket || got.Peer.Type != string(tc.bound) {
					t.Errorf("peer = %+v; want b/%s of type %s", got.Peer, socket, tc.bound)
				}
			})
		}
	}
}

// TestEndpointCasesCoverEveryPair keeps the table complete: every ordered
// pair of ZMTP peers against an application, and every peer of every
// device socket.
func TestEndpointCasesCoverEveryPair(t *testing.T) {
	have := map[endpointCase]bool{}
	for _, tc := range endpointCases {
		have[endpointCase{connecting: tc.connecting, bound: tc.bound, device: tc.device}] = true
	}
	for _, a := range zmqv1.SocketTypes {
		for _, b := range zmqv1.SocketTypes {
			if !zmqv1.Compatible(a, b) {
				continue
			}
			if !have[endpointCase{connecting: a, bound: b}] {
				t.Errorf("no case for %s connecting to an application's %s", a, b)
			}
			for _, d := range []zmqv1.DeviceType{zmqv1.Forwarder, zmqv1.Streamer, zmqv1.Queue} {
				front, back, _ := zmqv1.DeviceLayout(d)
				if (b == front || b == back) && !have[endpointCase{connecting: a, bound: b, device: d}] {
					t.Errorf("no case for %s connecting to a %s's %s", a, d, b)
				}
			}
		}
	}
}
