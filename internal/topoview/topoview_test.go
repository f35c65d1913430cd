package topoview

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func load(t *testing.T, file string) *zmqv1.ZMQTopology {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var topo zmqv1.ZMQTopology
	if err := yaml.UnmarshalStrict(raw, &topo); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &topo
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/topoview -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/topoview -update rewrites it):\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestGolden renders each fixture in every format and compares with the
// golden files: a topology whose status has every link health, and a spec
// without status with an external connect.
func TestGolden(t *testing.T) {
	for _, fixture := range []string{"pubsub-mixed", "pipeline-offline"} {
		topo := load(t, fixture+".yaml")
		g := Build(topo)
		for _, r := range []struct {
			ext    string
			render func(*bytes.Buffer) error
		}{
			{"status", func(b *bytes.Buffer) error { return WriteStatus(b, topo) }},
			{"dot", func(b *bytes.Buffer) error { return WriteDOT(b, g) }},
			{"mmd", func(b *bytes.Buffer) error { return WriteMermaid(b, g) }},
		} {
			t.Run(fixture+"."+r.ext, func(t *testing.T) {
				var b bytes.Buffer
				if err := r.render(&b); err != nil {
					t.Fatal(err)
				}
				golden(t, fixture+"."+r.ext+".golden", b.Bytes())
			})
		}
	}
}

// TestDOTRendersWithGraphviz feeds the DOT output to Graphviz itself (the
// graphviz package `make docs` uses): it must parse and give an SVG.
func TestDOTRendersWithGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dot not found; hack/prereqs.sh installs Debian's graphviz package")
		}
		t.Skip("dot not found (apt-get install graphviz)")
	}
	for _, fixture := range []string{"pubsub-mixed", "pipeline-offline"} {
		var in bytes.Buffer
		if err := WriteDOT(&in, Build(load(t, fixture+".yaml"))); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = &in
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("%s: dot: %v %s", fixture, err, stderr.String())
		}
		if !bytes.Contains(out, []byte("<svg")) || !bytes.Contains(out, []byte("events")) && fixture == "pubsub-mixed" {
			t.Errorf("%s: no SVG with the components:\n%.300s", fixture, out)
		}
	}
}

func TestLinkHealth(t *testing.T) {
	for _, tc := range []struct {
		name string
		link *zmqv1.LinkStatus
		want Health
	}{
		{"no status entry", nil, HealthUnknown},
		{"not polled, ends ready", &zmqv1.LinkStatus{Ready: true}, HealthUnknown},
		{"not polled, an end not ready", &zmqv1.LinkStatus{Reason: "component sink is not ready"}, HealthDown},
		{"all up", &zmqv1.LinkStatus{Ready: true, ExpectedConnections: 3, ConnectionsUp: 3}, HealthUp},
		{"some up", &zmqv1.LinkStatus{ExpectedConnections: 3, ConnectionsUp: 1, Reason: "w/p -> v-0: refused"}, HealthPartial},
		{"none up", &zmqv1.LinkStatus{ExpectedConnections: 3, Reason: "w/p -> v-0: refused"}, HealthDown},
	} {
		if got := LinkHealth(tc.link); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestFormatRTT(t *testing.T) {
	for micros, want := range map[int64]string{
		0: "", 1: "1µs", 999: "999µs", 1000: "1ms", 1500: "1.5ms", 9990: "10ms", 10_000: "10ms",
		123_456: "123ms", 1_000_000: "1s", 2_500_000: "2.5s",
	} {
		if got := FormatRTT(micros); got != want {
			t.Errorf("FormatRTT(%d) = %q, want %q", micros, got, want)
		}
	}
}

// TestEdgesFollowTheMessages: edges point from sender to receiver whichever
// side binds, and from the connector between sockets of one type.
func TestEdgesFollowTheMessages(t *testing.T) {
	g := Build(load(t, "pubsub-mixed.yaml"))
	got := map[string]string{}
	for _, e := range g.Edges {
		got[e.Connector+"/"+e.Pattern] = e.From + "->" + e.To
	}
	for k, want := range map[string]string{
		"prices/PUB-XSUB":    "prices->events", // the connector sends
		"dashboard/XPUB-SUB": "events->dashboard",
	} {
		if got[k] != want {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
	pair := &zmqv1.ZMQTopology{Spec: zmqv1.ZMQTopologySpec{Components: []zmqv1.Component{
		{Name: "a", Sockets: []zmqv1.Socket{{Name: "s", Type: zmqv1.DEALER, Bind: &zmqv1.BindSpec{Port: 1}}}},
		{Name: "b", Sockets: []zmqv1.Socket{{Name: "s", Type: zmqv1.DEALER, Connect: &zmqv1.ConnectSpec{Component: "a", Socket: "s"}}}},
	}}}
	if e := Build(pair).Edges; len(e) != 1 || e[0].From != "b" || e[0].To != "a" {
		t.Errorf("DEALER-DEALER edges %+v, want b->a", e)
	}
}

// TestLabelsAreEscaped: a quote or a newline in a reason or an address
// cannot break out of a DOT or Mermaid label.
func TestLabelsAreEscaped(t *testing.T) {
	if got := dotQuote("a\"b\\c\nd"); got != `"a\"b\\c\nd"` {
		t.Errorf("dotQuote: %s", got)
	}
	if got := mermaidText(`x"|<y>`); strings.ContainsAny(got, `"|<>`) {
		t.Errorf("mermaidText left markup: %s", got)
	}
}
