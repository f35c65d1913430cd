package topoview

import (
	"fmt"
	"io"
	"strings"
)

// Colors of link health and component readiness in both renderings.
var healthColor = map[Health]string{
	HealthUp:      "#2e7d32", // green
	HealthPartial: "#ef6c00", // orange
	HealthDown:    "#c62828", // red
	HealthUnknown: "#9e9e9e", // grey
}

func nodeColor(n Node) string {
	switch {
	case !n.Observed:
		return healthColor[HealthUnknown]
	case n.Ready:
		return healthColor[HealthUp]
	}
	return healthColor[HealthDown]
}

// nodeLines are the lines of a component's label: name, kind, readiness,
// bound sockets.
func nodeLines(n Node) []string {
	kind := n.Device
	if kind == "" {
		kind = "app"
	}
	if n.Kind != "" {
		kind += " · " + n.Kind
	}
	state := fmt.Sprintf("×%d", n.Replicas)
	if n.Observed {
		state = fmt.Sprintf("%d/%d ready", n.ReadyReplicas, n.Replicas)
	}
	lines := []string{n.Name, kind + " · " + state}
	return append(lines, n.Bound...)
}

// edgeLines are the lines of a link's label: pattern, then connections and
// RTT where known.
func edgeLines(e Edge) []string {
	lines := []string{e.Pattern}
	var facts []string
	for _, s := range []string{Connections(e.Status), RTT(e.Status)} {
		if s != "" {
			facts = append(facts, s)
		}
	}
	if len(facts) == 0 && e.Health != HealthUnknown {
		facts = append(facts, string(e.Health))
	}
	if len(facts) > 0 {
		lines = append(lines, strings.Join(facts, " · "))
	}
	return lines
}

// WriteDOT renders the graph as a Graphviz digraph: components as boxes
// (devices shaded) outlined green when ready, red when not, grey when not
// observed; links as edges in the direction messages flow, coloured by
// health (green up, orange partial, red down, grey unknown) and labelled
// with the pattern, connections and RTT. Render it with `dot -Tpng`.
func WriteDOT(w io.Writer, g Graph) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "digraph %s {\n", dotQuote(g.Name))
	fmt.Fprintf(b, "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, labelloc=t, label=%s];\n", dotQuote(title(g)))
	b.WriteString("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", penwidth=2, fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=10, penwidth=2];\n")
	for _, n := range g.Nodes {
		fill := ""
		if n.Device != "" {
			fill = ", fillcolor=\"#e3f2fd\""
		}
		fmt.Fprintf(b, "  %s [label=%s, color=%s%s];\n", dotQuote(n.Name), dotLabel(nodeLines(n)), dotQuote(nodeColor(n)), fill)
	}
	for _, e := range g.Edges {
		if e.External != "" {
			fmt.Fprintf(b, "  %s [label=%s, shape=note, style=dashed, color=%s];\n", dotQuote(e.External), dotLabel([]string{e.External, "outside the topology"}), dotQuote(healthColor[HealthUnknown]))
		}
	}
	for _, e := range g.Edges {
		color := dotQuote(healthColor[e.Health])
		style := ""
		if e.Health == HealthUnknown {
			style = ", style=dashed"
		}
		fmt.Fprintf(b, "  %s -> %s [label=%s, color=%s, fontcolor=%s%s];\n", dotQuote(e.From), dotQuote(e.To), dotLabel(edgeLines(e)), color, color, style)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMermaid renders the graph as a Mermaid flowchart with the same
// colours and labels as WriteDOT, for Markdown renderers that draw
// Mermaid (GitHub, GitLab).
func WriteMermaid(w io.Writer, g Graph) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "---\ntitle: %s\n---\nflowchart LR\n", mermaidText(title(g)))
	ids := map[string]string{}
	for i, n := range g.Nodes {
		id := fmt.Sprintf("c%d", i)
		ids[n.Name] = id
		open, close := "(", ")"
		if n.Device != "" {
			open, close = "[[", "]]"
		}
		fmt.Fprintf(b, "  %s%s\"%s\"%s\n", id, open, mermaidLabel(nodeLines(n)), close)
	}
	ext := 0
	for _, e := range g.Edges {
		if e.External != "" && ids[e.External] == "" {
			id := fmt.Sprintf("x%d", ext)
			ext++
			ids[e.External] = id
			fmt.Fprintf(b, "  %s>\"%s\"]\n", id, mermaidLabel([]string{e.External, "outside the topology"}))
		}
	}
	for _, e := range g.Edges {
		arrow := "-->"
		if e.Health == HealthUnknown {
			arrow = "-.->"
		}
		fmt.Fprintf(b, "  %s %s|\"%s\"| %s\n", ids[e.From], arrow, mermaidLabel(edgeLines(e)), ids[e.To])
	}
	for i, e := range g.Edges {
		fmt.Fprintf(b, "  linkStyle %d stroke:%s,stroke-width:2px,color:%s\n", i, healthColor[e.Health], healthColor[e.Health])
	}
	for _, n := range g.Nodes {
		fill := "#ffffff"
		if n.Device != "" {
			fill = "#e3f2fd"
		}
		fmt.Fprintf(b, "  style %s fill:%s,stroke:%s,stroke-width:2px\n", ids[n.Name], fill, nodeColor(n))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func title(g Graph) string {
	if g.Namespace == "" {
		return "ZMQTopology " + g.Name
	}
	return "ZMQTopology " + g.Namespace + "/" + g.Name
}

// dotQuote quotes s as a DOT string (ID or attribute value).
func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// dotLabel quotes lines as one centred DOT label.
func dotLabel(lines []string) string { return dotQuote(strings.Join(lines, "\n")) }

// mermaidText escapes what Mermaid would read as markup in a quoted label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "|", "#124;").Replace(s)
}

func mermaidLabel(lines []string) string {
	for i := range lines {
		lines[i] = mermaidText(lines[i])
	}
	return strings.Join(lines, "<br/>")
}
