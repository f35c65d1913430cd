//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestKubectlPlugin runs the built kubectl-zmq (bin/, from make build)
// against the pubsub sample once it is Ready: `graph -o dot` renders to a
// PNG with Graphviz, `status` lists every component (also run as `kubectl
// zmq`, found on PATH the way kubectl finds plugins), and `ping` reaches a
// subscriber's two Forwarder replicas and a device's own bound socket from
// inside the pods. With E2E_CAPTURE_DOCS=1 it also writes the topology
// (docs/pubsub.yaml, what `make docs` draws) and the status output
// (docs/pubsub-status.txt) for the README.
func TestKubectlPlugin(t *testing.T) {
	ctx := featureOnly(t)
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Fatal("dot not found: hack/prereqs.sh installs graphviz for the e2e suite")
	}
	// The default namespace, so that the captured snapshot reads as a
	// user's would; deleted at the end.
	const ns = "default"
	t.Cleanup(func() {
		_, _ = kubectl(context.Background(), "-n", ns, "delete", "zt", "pubsub", "--wait=true", "--timeout=60s")
	})
	if _, err := k.RunStdin(ctx, sample(t, "zmq_v1alpha1_pubsub.yaml"), "-n", ns, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	waitReady(ctx, t, ns, "pubsub", 4*time.Minute)
	polled := waitLinksPolled(ctx, t, ns, "pubsub", 60*time.Second)

	zmq := kubectlZmq(ctx, t, ns)

	// graph -o dot | dot -Tpng
	dotSrc, err := zmq(nil, "graph", "pubsub", "-o", "dot")
	if err != nil {
		t.Fatal(err)
	}
	render := exec.CommandContext(ctx, dot, "-Tpng")
	render.Stdin = strings.NewReader(dotSrc)
	var stderr bytes.Buffer
	render.Stderr = &stderr
	png, err := render.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("dot -Tpng: %v: %s\n%s", err, stderr.String(), dotSrc)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 1000 {
		t.Fatalf("dot -Tpng gave %d bytes, not a PNG", len(png))
	}
	t.Logf("kubectl-zmq graph pubsub -o dot | dot -Tpng: a %d-byte PNG", len(png))

	// status, straight and through kubectl's plugin lookup.
	status, err := zmq(nil, "status", "pubsub")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl zmq status pubsub:\n%s", status)
	viaKubectl := exec.CommandContext(ctx, k.Bin, "zmq", "status", "pubsub", "-n", ns)
	viaKubectl.Env = append(os.Environ(), "KUBECONFIG="+k.Kubeconfig, "PATH="+filepath.Join(repoRoot, "bin")+":"+os.Getenv("PATH"))
	if out, err := viaKubectl.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "ZMQTopology default/pubsub  Ready=True") {
		t.Errorf("kubectl zmq status: %v\n%s", err, out)
	}
	if !strings.HasPrefix(status, "ZMQTopology default/pubsub  Ready=True (AllComponentsReady)") {
		t.Errorf("status header: %q", strings.SplitN(status, "\n", 2)[0])
	}
	for _, c := range []struct{ name, kind, ready string }{
		{"events", "Forwarder StatefulSet", "2/2"}, {"prices", "app Deployment", "2/2"},
		{"news", "app Deployment", "1/1"}, {"dashboard", "app Deployment", "2/2"}, {"audit", "app Deployment", "1/1"},
	} {
		line := regexp.MustCompile(`(?m)^[├└]── ` + c.name + `  ` + c.kind + `  ` + c.ready + ` ready$`)
		if !line.MatchString(status) {
			t.Errorf("status lacks the line of component %s (%s, %s ready)", c.name, c.kind, c.ready)
		}
	}
	if strings.Count(status, "-> events/frontend")+strings.Count(status, "events/backend ->") != 4 {
		t.Errorf("status does not list the 4 links")
	}
	// Once the operator polls the sidecars, every link of the healthy
	// sample is up with all its connections and a measured round trip.
	if polled {
		up := regexp.MustCompile(`(?m)^[├└]── \S+ -> \S+  (PUB-XSUB|XPUB-SUB)  up  connections (\d+)/(\d+)  rtt `)
		if n := len(up.FindAllString(status, -1)); n != 4 {
			t.Errorf("%d of 4 links shown up with their connections and RTT", n)
		}
		if strings.Count(dotSrc, `color="#2e7d32", fontcolor="#2e7d32"`) != 4 {
			t.Errorf("the graph does not draw the 4 links green:\n%s", dotSrc)
		}
	}

	// ping: a subscriber reaches both Forwarder replicas; the device's
	// backend answers as an XPUB on the pod's own port.
	dash := pods(ctx, t, ns, "pubsub", "dashboard")
	if len(dash) == 0 {
		t.Fatal("no dashboard pod")
	}
	out, err := zmq(nil, "ping", dash[0].Name, "in")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "2/2 endpoints answered") || strings.Count(out, "socket-type: XPUB") != 2 {
		t.Errorf("ping %s in:\n%s", dash[0].Name, out)
	}
	t.Logf("kubectl zmq ping %s in:\n%s", dash[0].Name, out)
	out, err = zmq(nil, "ping", "pubsub-events-0", "backend")
	if err != nil || !strings.Contains(out, "tcp://127.0.0.1:5560") || !strings.Contains(out, "socket-type: XPUB") || !strings.Contains(out, "1/1 endpoints answered") {
		t.Errorf("ping pubsub-events-0 backend: %v\n%s", err, out)
	}
	if _, err := zmq(nil, "ping", dash[0].Name, "nope"); err == nil || !strings.Contains(err.Error(), `no socket "nope" (its sockets: in)`) {
		t.Errorf("ping of an unknown socket: %v", err)
	}

	if os.Getenv("E2E_CAPTURE_DOCS") == "1" {
		captureDocs(ctx, t, ns, status)
	}
}

// waitLinksPolled waits until every link of the topology has all its
// expected connections up, and reports whether the operator polled the
// sidecars at all (every link has connection counts) by the end of
// timeout. Without the link poller it never does.
func waitLinksPolled(ctx context.Context, t *testing.T, ns, name string, timeout time.Duration) (polled bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := mustKubectl(ctx, t, "-n", ns, "get", "zt", name, "-o",
			`jsonpath={range .status.links[*]}{.expectedConnections}{" "}{.connectionsUp}{"\n"}{end}`)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		polled, allUp := true, true
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) == 0 || f[0] == "0" {
				polled = false
			}
			if len(f) != 2 || f[0] != f[1] {
				allUp = false
			}
		}
		if polled && allUp {
			t.Logf("every link of %s has all its connections up (expected, up):\n%s", name, out)
			return true
		}
		if time.Now().After(deadline) {
			t.Logf("links of %s after %s (expected, up): %q", name, timeout, out)
			return polled
		}
		time.Sleep(time.Second)
	}
}

// captureDocs writes the live pubsub topology, as `kubectl get -o yaml`
// shows it less the server's bookkeeping fields, to docs/pubsub.yaml, and
// the status output to docs/pubsub-status.txt.
func captureDocs(ctx context.Context, t *testing.T, ns, status string) {
	t.Helper()
	raw := mustKubectl(ctx, t, "-n", ns, "get", "zt", "pubsub", "-o", "yaml")
	bookkeeping := regexp.MustCompile(`(?m)^  (creationTimestamp|resourceVersion|uid): .*\n`)
	snapshot := bookkeeping.ReplaceAllString(raw, "")
	snapshot = strings.ReplaceAll(snapshot, examplesImage, "zmq-operator-examples:dev")
	header := "# The pubsub sample (config/samples) as it ran on the e2e cluster: captured by\n" +
		"# `E2E_INSTALL=helm E2E_CAPTURE_DOCS=1 make test-e2e` (TestKubectlPlugin), less\n" +
		"# creationTimestamp, resourceVersion and uid, the image renamed back to the\n" +
		"# sample's. `make docs` draws docs/pubsub.svg from it.\n"
	docs := filepath.Join(repoRoot, "docs")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(docs, "pubsub.yaml"), []byte(header+snapshot), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(docs, "pubsub-status.txt"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("captured docs/pubsub.yaml and docs/pubsub-status.txt")
}

// kubectlZmq returns a runner of the built kubectl-zmq plugin (bin/, made
// by make build) against the test cluster in namespace ns, with stdin; it
// returns stdout, and an error that carries stderr.
func kubectlZmq(ctx context.Context, t *testing.T, ns string) func(stdin []byte, args ...string) (string, error) {
	t.Helper()
	plugin := filepath.Join(repoRoot, "bin", "kubectl-zmq")
	if _, err := os.Stat(plugin); err != nil {
		t.Fatalf("%v: run make build first (make test-e2e does)", err)
	}
	return func(stdin []byte, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, plugin, append([]string{"--kubeconfig", k.Kubeconfig, "-n", ns}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("kubectl-zmq %s: %w: %s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), nil
	}
}
