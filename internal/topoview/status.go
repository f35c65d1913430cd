package topoview

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// conditionOrder is the order status shows conditions in; others follow
// in their status order.
var conditionOrder = []string{
	zmqv1.ConditionReady, zmqv1.ConditionProgressing, zmqv1.ConditionDegraded,
	zmqv1.ConditionReconciling, zmqv1.ConditionStalled,
}

// WriteStatus writes the human-readable status of a topology: a header
// line (Ready, generation), the components as a tree (kind, ready/desired
// replicas, every socket: a bound one with the endpoints it publishes, a
// connecting one with its target), the links with their health (connections
// up/expected, RTT, reason) and the conditions.
func WriteStatus(w io.Writer, t *zmqv1.ZMQTopology) error {
	g := Build(t)
	b := &strings.Builder{}
	ready := "Unknown"
	if c := findCondition(t.Status.Conditions, zmqv1.ConditionReady); c != nil {
		ready = fmt.Sprintf("%s (%s)", c.Status, c.Reason)
	}
	fmt.Fprintf(b, "%s  Ready=%s  generation %d, observed %d", title(g), ready, t.Generation, t.Status.ObservedGeneration)
	if t.Spec.Paused {
		b.WriteString("  PAUSED")
	}
	b.WriteString("\n\n")

	fmt.Fprintf(b, "Components (%s ready)\n", orDash(t.Status.ComponentsReady))
	endpoints := componentEndpoints(t)
	for i, n := range g.Nodes {
		last := i == len(g.Nodes)-1
		fmt.Fprintf(b, "%s%s\n", branch(last), nodeLine(n))
		c := t.Component(n.Name)
		for j, s := range c.Sockets {
			lastSocket := j == len(c.Sockets)-1
			fmt.Fprintf(b, "%s%s%s\n", stem(last), branch(lastSocket), socketLine(&s))
			eps := endpoints[n.Name+"/"+s.Name]
			for k, ep := range eps {
				fmt.Fprintf(b, "%s%s%s%s\n", stem(last), stem(lastSocket), branch(k == len(eps)-1), ep)
			}
		}
	}

	fmt.Fprintf(b, "\nLinks (%s ready)\n", orDash(t.Status.LinksReady))
	if len(g.Edges) == 0 {
		b.WriteString("  (none)\n")
	}
	for i, e := range g.Edges {
		fmt.Fprintf(b, "%s%s\n", branch(i == len(g.Edges)-1), linkLine(e))
	}

	b.WriteString("\nConditions\n")
	if len(t.Status.Conditions) == 0 {
		b.WriteString("  (none: the operator has not reported status yet)\n")
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, c := range orderedConditions(t.Status.Conditions) {
		stale := ""
		if c.ObservedGeneration != 0 && c.ObservedGeneration != t.Generation {
			stale = fmt.Sprintf(" (generation %d)", c.ObservedGeneration)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s%s\n", c.Type, c.Status, c.Reason, c.Message, stale)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, trimLineEnds(b.String()))
	return err
}

func nodeLine(n Node) string {
	kind := n.Device
	if kind == "" {
		kind = "app"
	}
	if n.Kind != "" {
		kind += " " + n.Kind
	}
	state := fmt.Sprintf("%d desired, not observed", n.Replicas)
	if n.Observed {
		state = fmt.Sprintf("%d/%d ready", n.ReadyReplicas, n.Replicas)
		if !n.Ready {
			state += "  NOT READY"
		}
	}
	return fmt.Sprintf("%s  %s  %s", n.Name, kind, state)
}

func socketLine(s *zmqv1.Socket) string {
	switch {
	case s.Bind != nil:
		return fmt.Sprintf("%s %s bind :%d", s.Name, s.Type, s.Bind.Port)
	case s.Connect != nil && s.Connect.Address != "":
		return fmt.Sprintf("%s %s connect %s", s.Name, s.Type, s.Connect.Address)
	case s.Connect != nil:
		return fmt.Sprintf("%s %s connect %s/%s", s.Name, s.Type, s.Connect.Component, s.Connect.Socket)
	}
	return fmt.Sprintf("%s %s", s.Name, s.Type)
}

func linkLine(e Edge) string {
	arrow := fmt.Sprintf("%s/%s -> %s/%s", e.From, e.FromSocket, e.To, e.ToSocket)
	if e.External != "" {
		arrow = fmt.Sprintf("%s/%s -> %s", e.From, e.FromSocket, e.External)
	}
	parts := []string{arrow, e.Pattern, string(e.Health)}
	if e.External != "" {
		parts[2] = "external, not observed"
	}
	if e.Status != nil && e.Status.ExpectedConnections > 0 {
		parts = append(parts, fmt.Sprintf("connections %d/%d", e.Status.ConnectionsUp, e.Status.ExpectedConnections))
	}
	if rtt := RTT(e.Status); rtt != "" {
		parts = append(parts, rtt)
	}
	switch {
	case e.Status != nil && e.Status.Reason != "":
		parts = append(parts, e.Status.Reason)
	case e.Health == HealthUnknown && e.Status != nil:
		parts = append(parts, "both ends ready, connections not polled yet")
	}
	return strings.Join(parts, "  ")
}

// componentEndpoints indexes status.components[].endpoints
// ("<socket>=<endpoint>") by "<component>/<socket>".
func componentEndpoints(t *zmqv1.ZMQTopology) map[string][]string {
	out := map[string][]string{}
	for _, cs := range t.Status.Components {
		for _, ep := range cs.Endpoints {
			socket, endpoint, ok := strings.Cut(ep, "=")
			if !ok {
				continue
			}
			out[cs.Name+"/"+socket] = append(out[cs.Name+"/"+socket], endpoint)
		}
	}
	return out
}

func orderedConditions(conds []metav1.Condition) []metav1.Condition {
	var out []metav1.Condition
	for _, typ := range conditionOrder {
		if c := findCondition(conds, typ); c != nil {
			out = append(out, *c)
		}
	}
	for _, c := range conds {
		if findCondition(out, c.Type) == nil {
			out = append(out, c)
		}
	}
	return out
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func branch(last bool) string {
	if last {
		return "└── "
	}
	return "├── "
}

func stem(last bool) string {
	if last {
		return "    "
	}
	return "│   "
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// trimLineEnds removes the spaces tabwriter leaves at line ends.
func trimLineEnds(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
