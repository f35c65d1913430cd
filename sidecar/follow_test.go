package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// replaceFile replaces path's content atomically (write + rename), as a
// reader of a kubelet-updated volume sees it.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func bindSock(t *testing.T, typ zmtp.SocketType) (*zmtp.Socket, string) {
	t.Helper()
	s, err := zmtp.NewSocket(typ)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ep, err := s.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return s, ep
}

// TestAgentFollowsPeers changes the endpoints of the agent's connecting
// socket in its file: the new peer is probed, the old one's metrics go
// away, and a bad file is counted and changes nothing.
func TestAgentFollowsPeers(t *testing.T) {
	_, epA := bindSock(t, zmtp.PUB)
	_, epB := bindSock(t, zmtp.PUB)
	cfg := func(eps ...string) *zmqconfig.Config {
		return &zmqconfig.Config{Version: 1, Topology: "t", Namespace: "ns", Component: "app", Sockets: []zmqconfig.Socket{
			{Name: "in", Type: "SUB", Endpoints: eps},
		}}
	}
	base, path := startAgentAt(t, cfg(epA), 20*time.Millisecond, "--config-poll-interval", "20ms")
	up := func(ep string) string { return fmt.Sprintf(`zmq_sidecar_peer_up{endpoint=%q,socket="in"}`, ep) }
	waitUntil(t, 5*time.Second, "peer A up", func() bool { return scrape(t, base)[up(epA)] == 1 })

	raw, _ := cfg(epB).Marshal()
	replaceFile(t, path, raw)
	waitUntil(t, 5*time.Second, "peer B up and A gone", func() bool {
		m := scrape(t, base)
		_, hasA := m[up(epA)]
		return m[up(epB)] == 1 && !hasA
	})
	m := scrape(t, base)
	if m["zmq_sidecar_config_reloads_total"] != 1 || m["zmq_sidecar_config_errors_total"] != 0 {
		t.Errorf("reloads %v, errors %v; want 1, 0", m["zmq_sidecar_config_reloads_total"], m["zmq_sidecar_config_errors_total"])
	}
	for k := range m {
		if strings.Contains(k, epA) {
			t.Errorf("a metric of the removed peer remains: %s", k)
		}
	}

	replaceFile(t, path, raw[:len(raw)/2])
	waitUntil(t, 5*time.Second, "the bad file counted", func() bool { return scrape(t, base)["zmq_sidecar_config_errors_total"] == 1 })
	time.Sleep(100 * time.Millisecond) // several polls of the same bad file
	m = scrape(t, base)
	if m["zmq_sidecar_config_errors_total"] != 1 || m[up(epB)] != 1 {
		t.Errorf("after a bad file: errors %v, peer B up %v; want 1 and 1", m["zmq_sidecar_config_errors_total"], m[up(epB)])
	}
}

// TestDeviceFollowsEndpoints runs a Streamer whose frontend connects to a
// producer; the file moves it to another producer, whose messages then
// flow through the device while the first loses its connection.
func TestDeviceFollowsEndpoints(t *testing.T) {
	pushA, epA := bindSock(t, zmtp.PUSH)
	pushB, epB := bindSock(t, zmtp.PUSH)
	bp := freePort(t)
	back := fmt.Sprintf("tcp://127.0.0.1:%d", bp)
	cfg := func(ep string) []byte {
		c := &zmqconfig.Config{Version: 1, Topology: "t", Namespace: "ns", Component: "d", Device: "Streamer", Sockets: []zmqconfig.Socket{
			{Name: "frontend", Type: "PULL", Endpoints: []string{ep}},
			{Name: "backend", Type: "PUSH", Bind: true, Port: bp, Endpoints: []string{back}},
		}}
		raw, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	path := filepath.Join(t.TempDir(), "topology.json")
	replaceFile(t, path, cfg(epA))
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDevice(ctx, []string{"streamer", "--config", path, "--listen", metrics, "--config-poll-interval", "20ms"}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("device: %v", err)
		}
	})
	pull, err := zmtp.NewSocket(zmtp.PULL)
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	if err := pull.Connect(back); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	if err := pushA.Send(sctx, zmtp.NewMsgString("a")); err != nil {
		t.Fatal(err)
	}
	if m, err := pull.Recv(sctx); err != nil || string(m[0]) != "a" {
		t.Fatalf("through the device from A: %q, %v", m, err)
	}

	replaceFile(t, path, cfg(epB))
	waitUntil(t, 5*time.Second, "A disconnected, B connected", func() bool {
		return pushA.Stats().Peers == 0 && pushB.Stats().Peers == 1
	})
	for i := range 10 {
		if err := pushB.Send(sctx, zmtp.NewMsgString("b", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if m, err := pull.Recv(sctx); err != nil || string(m[1]) != fmt.Sprint(i) {
			t.Fatalf("through the device from B: %q, %v", m, err)
		}
	}
	m := scrape(t, "http://"+metrics)
	for k, want := range map[string]float64{
		"zmq_device_config_reloads_total":                                 1,
		`zmq_device_config_endpoint_changes_total{change="connected"}`:    1,
		`zmq_device_config_endpoint_changes_total{change="disconnected"}`: 1,
		"zmq_device_config_errors_total":                                  0,
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
}
