package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// startAgent runs the agent on a configuration until the test ends and
// returns its base URL. extra are more flags.
func startAgent(t *testing.T, cfg *zmqconfig.Config, interval time.Duration, extra ...string) string {
	t.Helper()
	base, _ := startAgentAt(t, cfg, interval, extra...)
	return base
}

// startAgentAt is startAgent that also returns the configuration's path.
func startAgentAt(t *testing.T, cfg *zmqconfig.Config, interval time.Duration, extra ...string) (base, path string) {
	t.Helper()
	raw, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runAgent(ctx, append([]string{"--config", path, "--listen", addr, "--probe-interval", interval.String(), "--probe-timeout", "1s"}, extra...), io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	base = "http://" + addr
	waitUntil(t, 5*time.Second, "agent listening", func() bool { _, err := http.Get(base + "/healthz"); return err == nil })
	return base, path
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// scrape returns the agent's metrics as "name{labels}" -> value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metric line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestAgentReadinessPeersAndStats runs the agent beside an application that
// binds a PUSH socket late and connects a SUB to a publisher: readiness
// follows the bind, the peer is reported up with its type, the socket
// counters follow the traffic, and probing loses no message.
func TestAgentReadinessPeersAndStats(t *testing.T) {
	const interval = 25 * time.Millisecond
	pushPort := freePort(t)
	pub, err := zmtp.NewSocket(zmtp.PUB)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pubEP, err := pub.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &zmqconfig.Config{Topology: "t", Namespace: "ns", Component: "app", Sockets: []zmqconfig.Socket{
		{Name: "tasks", Type: "PUSH", Bind: true, Port: pushPort, Endpoints: []string{fmt.Sprintf("tcp://*:%d", pushPort)}},
		{Name: "events", Type: "SUB", Endpoints: []string{pubEP}},
	}}
	base := startAgent(t, cfg, interval)

	// Not ready while the application has not bound its socket.
	time.Sleep(3 * interval)
	if got := status(t, base+"/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d before the bind; want 503", got)
	}
	push, err := zmtp.NewSocket(zmtp.PUSH, zmtp.WithSendHWM(0))
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	if _, err := push.Bind(fmt.Sprintf("tcp://127.0.0.1:%d", pushPort)); err != nil {
		t.Fatal(err)
	}
	bound := time.Now()
	waitUntil(t, 10*time.Second, "/readyz 200", func() bool { return status(t, base+"/readyz") == http.StatusOK })
	t.Logf("ready %s after the bind (interval %s)", time.Since(bound).Round(time.Millisecond), interval)

	m := scrape(t, base)
	if m[`zmq_sidecar_peer_up{endpoint="`+pubEP+`",socket="events"}`] != 1 {
		t.Errorf("peer not up: %v", m)
	}
	if m[`zmq_sidecar_peer_info{endpoint="`+pubEP+`",peer_type="PUB",socket="events",zmtp_version="3.1"}`] != 1 {
		t.Errorf("peer info missing: %v", m)
	}
	if m[`zmq_sidecar_bound_socket_up{socket="tasks",type="PUSH"}`] != 1 {
		t.Errorf("bound socket not up: %v", m)
	}

	// A worker takes 3,000 messages of 1 KiB while the agent keeps probing
	// the bound PUSH: none is lost, and the socket's byte counter grows by
	// what was sent (within 10%: ZMTP framing and the probes' greetings).
	pull, err := zmtp.NewSocket(zmtp.PULL)
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	if err := pull.Connect(fmt.Sprintf("tcp://127.0.0.1:%d", pushPort)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "worker connected", func() bool { return len(push.Peers()) > 0 })
	before := scrape(t, base)[`zmq_sidecar_socket_sent_bytes_total{socket="tasks"}`]
	const n, size = 3000, 1024
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		for i := 0; i < n; i++ {
			if err := push.Send(ctx, zmtp.NewMsg(make([]byte, size))); err != nil {
				return
			}
			if i%10 == 0 {
				time.Sleep(5 * time.Millisecond) // spread the traffic over many probes
			}
		}
	}()
	for i := 0; i < n; i++ {
		if _, err := pull.Recv(ctx); err != nil {
			t.Fatalf("worker got %d of %d messages: %v", i, n, err)
		}
	}
	var sent float64
	waitUntil(t, 5*time.Second, "byte counters", func() bool {
		sent = scrape(t, base)[`zmq_sidecar_socket_sent_bytes_total{socket="tasks"}`] - before
		return sent >= n*size
	})
	if sent > 1.1*n*size {
		t.Errorf("tasks socket counted %.0f bytes sent; want %d within 10%%", sent, n*size)
	}
	probes := scrape(t, base)[`zmq_sidecar_probes_total{result="ok",socket="tasks"}`]
	t.Logf("%d messages, %.0f bytes counted, %.0f probes of the bound PUSH", n, sent, probes)
	if probes < 30 {
		t.Errorf("only %.0f probes during the run", probes)
	}

	// The application closes its socket: not ready any more.
	push.Close()
	waitUntil(t, 10*time.Second, "/readyz 503", func() bool { return status(t, base+"/readyz") == http.StatusServiceUnavailable })
}
