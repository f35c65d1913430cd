package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	code = run(context.Background(), args, streams)
	return code, out.String(), errOut.String()
}

// TestHelp: --help on the plugin and each command prints its usage on
// stdout, with kubectl's connection flags, and exits 0.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"status", "--help"}, {"graph", "--help"}, {"ping", "-h"}} {
		code, out, errOut := runCmd(t, "", args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		for _, want := range []string{"Usage:", "--context", "--kubeconfig", "-n, --namespace"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: usage lacks %q:\n%s", args, want, out)
			}
		}
	}
}

const sample = "../../config/samples/zmq_v1alpha1_pubsub.yaml"

// TestGraphOffline renders the committed sample without a cluster, in both
// formats, from a file and from stdin.
func TestGraphOffline(t *testing.T) {
	code, out, errOut := runCmd(t, "", "graph", "-f", sample, "-o", "dot")
	if code != 0 || !strings.HasPrefix(out, `digraph "pubsub" {`) || !strings.Contains(out, `"prices" -> "events"`) {
		t.Fatalf("exit %d, stderr %q, out:\n%s", code, errOut, out)
	}
	raw, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, string(raw), "graph", "pubsub", "-f", "-", "-o", "mermaid")
	if code != 0 || !strings.Contains(out, "flowchart LR") {
		t.Fatalf("mermaid from stdin: exit %d, stderr %q, out:\n%s", code, errOut, out)
	}
	code, out, _ = runCmd(t, "", "status", "-f", sample)
	if code != 0 || !strings.Contains(out, "└── audit  app  1 desired, not observed") {
		t.Fatalf("status -f: exit %d:\n%s", code, out)
	}
}

// TestBadInput: each mistake is refused with a message naming it, exit 1.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notTopology := filepath.Join(dir, "cm.yaml")
	if err := os.WriteFile(notTopology, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("apiVersion: zmq.topology.dev/v1alpha1\nkind: ZMQTopology\nmetadata: {name: x}\nspec: {componets: []}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"graph", "-f", sample, "-o", "png"}, `--output "png": want dot or mermaid`},
		{[]string{"graph", "other", "-f", sample}, `holds ZMQTopology "pubsub", not "other"`},
		{[]string{"graph", "-f", notTopology}, `apiVersion/kind is "v1"/"ConfigMap"`},
		{[]string{"status", "-f", typo}, `unknown field "componets"`},
		{[]string{"status", "-f", filepath.Join(dir, "missing.yaml")}, "no such file"},
		{[]string{"ping"}, "accepts between 1 and 2 arg(s)"},
		{[]string{"ping", "p", "--mode", "loud"}, `--mode "loud"`},
		{[]string{"status", "a", "b"}, "accepts at most 1 arg(s)"},
	} {
		code, _, errOut := runCmd(t, "", tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to contain %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestPingTargets(t *testing.T) {
	cfg := &zmqconfig.Config{Component: "worker", Sockets: []zmqconfig.Socket{
		{Name: "tasks", Type: "PULL", Endpoints: []string{"tcp://v-0.v:5557", "tcp://v-1.v:5557"}},
		{Name: "control", Type: "REP", Bind: true, Port: 6000, Endpoints: []string{"tcp://*:6000"}},
	}}
	all, err := pingTargets(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []pingTarget{
		{Socket: "tasks", Type: "PULL", Endpoint: "tcp://v-0.v:5557"},
		{Socket: "tasks", Type: "PULL", Endpoint: "tcp://v-1.v:5557"},
		{Socket: "control", Type: "REP", Endpoint: "tcp://127.0.0.1:6000", Bound: true},
	}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("all sockets: %+v\nwant %+v", all, want)
	}
	one, err := pingTargets(cfg, "control")
	if err != nil || len(one) != 1 || one[0].Endpoint != "tcp://127.0.0.1:6000" {
		t.Errorf("control: %+v, %v", one, err)
	}
	if _, err := pingTargets(cfg, "nope"); err == nil || !strings.Contains(err.Error(), `no socket "nope" (its sockets: tasks, control)`) {
		t.Errorf("unknown socket: %v", err)
	}
	got := pingCommand(want[0], pingOptions{mode: "ready", timeout: 3 * time.Second})
	if strings.Join(got, " ") != "/zmq-sidecar ping --timeout 3s --mode ready --socket tasks tcp://v-0.v:5557" {
		t.Errorf("command %q", got)
	}
}

// TestDocsPictureIsCurrent: docs/pubsub.dot, which make docs renders into
// the README's docs/pubsub.svg, is what the plugin draws from the captured
// docs/pubsub.yaml today (run make docs after changing either).
func TestDocsPictureIsCurrent(t *testing.T) {
	want, err := os.ReadFile("../../docs/pubsub.dot")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "", "graph", "-f", "../../docs/pubsub.yaml", "-o", "dot")
	if code != 0 || out != string(want) {
		t.Errorf("docs/pubsub.dot is stale: run make docs (exit %d, %s)", code, errOut)
	}
}
