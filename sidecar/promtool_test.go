package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// TestMetricsPassPromtool lints a scrape of the agent and of a device with
// Prometheus' own `promtool check metrics` (Debian's prometheus package,
// which CI installs).
func TestMetricsPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found; CI installs Debian's prometheus package")
		}
		t.Skip("promtool not found (apt-get install prometheus)")
	}

	// An agent with a bound socket and a peer, both up.
	rep, _ := zmtp.NewSocket(zmtp.REP)
	defer rep.Close()
	port := freePort(t)
	if _, err := rep.Bind(fmt.Sprintf("tcp://127.0.0.1:%d", port)); err != nil {
		t.Fatal(err)
	}
	pub, _ := zmtp.NewSocket(zmtp.PUB)
	defer pub.Close()
	pubEP, _ := pub.Bind("tcp://127.0.0.1:0")
	base := startAgent(t, &zmqconfig.Config{Topology: "t", Component: "c", Sockets: []zmqconfig.Socket{
		{Name: "rpc", Type: "REP", Bind: true, Port: port, Endpoints: []string{fmt.Sprintf("tcp://*:%d", port)}},
		{Name: "events", Type: "SUB", Endpoints: []string{pubEP}},
	}}, 50*time.Millisecond)
	waitUntil(t, 5*time.Second, "ready", func() bool { return status(t, base+"/readyz") == http.StatusOK })

	// A forwarder device with its metrics endpoint.
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	fp, bp := freePort(t), freePort(t)
	cfg := &zmqconfig.Config{Topology: "t", Component: "fwd", Device: "Forwarder", Sockets: []zmqconfig.Socket{
		{Name: "frontend", Type: "XSUB", Bind: true, Port: fp, Endpoints: []string{fmt.Sprintf("tcp://127.0.0.1:%d", fp)}},
		{Name: "backend", Type: "XPUB", Bind: true, Port: bp, Endpoints: []string{fmt.Sprintf("tcp://127.0.0.1:%d", bp)}},
	}}
	raw, _ := cfg.Marshal()
	path := filepath.Join(t.TempDir(), "fwd.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDevice(ctx, []string{"forwarder", "--config", path, "--listen", metricsAddr}, io.Discard)
	}()
	defer func() { cancel(); <-done }()

	for _, url := range []string{base + "/metrics", "http://" + metricsAddr + "/metrics"} {
		var body []byte
		waitUntil(t, 5*time.Second, url, func() bool {
			resp, err := http.Get(url)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, err = io.ReadAll(resp.Body)
			return err == nil && resp.StatusCode == http.StatusOK
		})
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on %s: %v\n%s\n--- scrape ---\n%s", url, err, out, body)
		}
	}
}
