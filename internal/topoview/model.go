// Package topoview turns a ZMQTopology (spec and status) into what
// kubectl-zmq shows: a text tree (status), and a graph of components and
// links rendered as Graphviz DOT or Mermaid. Everything here is pure: it
// reads the object it is given and writes to an io.Writer, so the same
// renderings come from a live cluster or from a saved manifest.
package topoview

import (
	"fmt"
	"strings"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// Health is what is known about a link's connections.
type Health string

// The health of a link, from its status.
const (
	// HealthUp: every expected connection is up.
	HealthUp Health = "up"
	// HealthPartial: some expected connections are up, not all.
	HealthPartial Health = "partial"
	// HealthDown: no expected connection is up, or an end of the link is
	// not ready.
	HealthDown Health = "down"
	// HealthUnknown: the sidecars have not been polled (no connection
	// counts yet) and nothing says the link is broken; also every link of
	// a topology without status.
	HealthUnknown Health = "unknown"
)

// LinkHealth classifies a link's status. Connection counts win when the
// operator has them (expectedConnections > 0); before that a link whose
// end is not ready is down, and one whose ends are ready is unknown: ready
// components do not prove the connections are up.
func LinkHealth(l *zmqv1.LinkStatus) Health {
	switch {
	case l == nil:
		return HealthUnknown
	case l.ExpectedConnections > 0 && l.ConnectionsUp >= l.ExpectedConnections:
		return HealthUp
	case l.ExpectedConnections > 0 && l.ConnectionsUp > 0:
		return HealthPartial
	case l.ExpectedConnections > 0:
		return HealthDown
	case !l.Ready && l.Reason != "":
		return HealthDown
	}
	return HealthUnknown
}

// Node is one component of the topology.
type Node struct {
	// Name of the component.
	Name string
	// Device is the device type (Forwarder, Streamer, Queue), empty for an
	// application.
	Device string
	// Kind is the workload kind from status (Deployment, StatefulSet);
	// empty when the topology has no status.
	Kind string
	// Replicas desired (spec) and ReadyReplicas (status).
	Replicas, ReadyReplicas int32
	// Observed is true when status has the component.
	Observed bool
	// Ready is the component's readiness from status.
	Ready bool
	// Bound lists the sockets the component binds, as "name TYPE :port".
	Bound []string
}

// Edge is one link, oriented the way messages flow: from the sender (or
// requester) to the receiver (or replier). Between two sockets of the same
// type (PAIR, DEALER, ROUTER) it points from the connecting side.
type Edge struct {
	// From and To are component names; FromSocket and ToSocket their
	// sockets.
	From, FromSocket, To, ToSocket string
	// Connector is the component whose socket connects (From or To).
	Connector string
	// Pattern is the pair of socket types, sender first ("PUB-XSUB").
	Pattern string
	// Health of the link; Status is the link's status entry, nil when the
	// topology's status does not list it.
	Health Health
	Status *zmqv1.LinkStatus
	// External is the address of a connect outside the topology; To is
	// then that address and the link has no status.
	External string
}

// Graph is a topology's components and links.
type Graph struct {
	Name, Namespace string
	Nodes           []Node
	Edges           []Edge
}

// Build derives the graph from the topology's spec, with the health of
// each link taken from status.links (matched by from/to). Links to
// addresses outside the topology are included with HealthUnknown.
func Build(t *zmqv1.ZMQTopology) Graph {
	g := Graph{Name: t.Name, Namespace: t.Namespace}
	statusOf := map[string]*zmqv1.ComponentStatus{}
	for i := range t.Status.Components {
		statusOf[t.Status.Components[i].Name] = &t.Status.Components[i]
	}
	links := map[string]*zmqv1.LinkStatus{}
	for i := range t.Status.Links {
		l := &t.Status.Links[i]
		links[l.From+" "+l.To] = l
	}
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		n := Node{Name: c.Name, Replicas: replicas(c)}
		if c.Device != nil {
			n.Device = string(c.Device.Type)
		}
		if cs := statusOf[c.Name]; cs != nil {
			n.Observed, n.Kind, n.ReadyReplicas, n.Ready = true, cs.Kind, cs.ReadyReplicas, cs.Ready
		}
		for _, s := range c.Sockets {
			if s.Bind != nil {
				n.Bound = append(n.Bound, fmt.Sprintf("%s %s :%d", s.Name, s.Type, s.Bind.Port))
			}
		}
		g.Nodes = append(g.Nodes, n)
	}
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		for _, s := range c.Sockets {
			if e, ok := edge(t, c, &s, links); ok {
				g.Edges = append(g.Edges, e)
			}
		}
	}
	return g
}

// edge builds the edge of one connecting socket; ok is false for a bound
// socket or a connect whose target does not exist (an invalid spec).
func edge(t *zmqv1.ZMQTopology, c *zmqv1.Component, s *zmqv1.Socket, links map[string]*zmqv1.LinkStatus) (Edge, bool) {
	if s.Connect == nil {
		return Edge{}, false
	}
	if s.Connect.Address != "" {
		return Edge{From: c.Name, FromSocket: s.Name, To: s.Connect.Address, Connector: c.Name,
			Pattern: string(s.Type), Health: HealthUnknown, External: s.Connect.Address}, true
	}
	target := t.Component(s.Connect.Component)
	if target == nil {
		return Edge{}, false
	}
	bound := target.Socket(s.Connect.Socket)
	if bound == nil {
		return Edge{}, false
	}
	pattern := zmqv1.Pattern(bound.Type, s.Type)
	e := Edge{From: c.Name, FromSocket: s.Name, To: target.Name, ToSocket: bound.Name, Connector: c.Name, Pattern: pattern}
	if !strings.HasPrefix(pattern, string(s.Type)+"-") {
		// The bound side sends (or requests): messages flow towards the
		// connector.
		e.From, e.FromSocket, e.To, e.ToSocket = target.Name, bound.Name, c.Name, s.Name
	}
	e.Status = links[c.Name+"/"+s.Name+" "+target.Name+"/"+bound.Name]
	e.Health = LinkHealth(e.Status)
	return e, true
}

func replicas(c *zmqv1.Component) int32 {
	if c.Replicas == nil {
		return 1
	}
	return *c.Replicas
}

// FormatRTT renders a round trip in microseconds the way people read it:
// "850µs", "1.2ms", "3s"; "" for zero (not measured).
func FormatRTT(micros int64) string {
	switch {
	case micros <= 0:
		return ""
	case micros < 1000:
		return fmt.Sprintf("%dµs", micros)
	case micros < 10_000:
		return trimZero(fmt.Sprintf("%.1f", float64(micros)/1000)) + "ms"
	case micros < 1_000_000:
		return fmt.Sprintf("%dms", (micros+500)/1000)
	}
	return trimZero(fmt.Sprintf("%.1f", float64(micros)/1e6)) + "s"
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// Connections renders a link's "<up>/<expected> up", or "" before the
// sidecars were polled.
func Connections(l *zmqv1.LinkStatus) string {
	if l == nil || l.ExpectedConnections == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d up", l.ConnectionsUp, l.ExpectedConnections)
}

// RTT renders a link's round trips, "rtt 180µs (max 420µs)", or "" when
// not measured.
func RTT(l *zmqv1.LinkStatus) string {
	if l == nil || l.RTTP50Micros == 0 {
		return ""
	}
	s := "rtt " + FormatRTT(l.RTTP50Micros)
	if l.RTTMaxMicros > l.RTTP50Micros {
		s += " (max " + FormatRTT(l.RTTMaxMicros) + ")"
	}
	return s
}
