package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// startDevice writes a device configuration binding two loopback ports and
// runs the device until the test ends. It returns the two endpoints. tweaks
// may change the configuration and the device's flags (metrics are off
// unless a tweak sets --listen).
func startDevice(t *testing.T, device, frontType, backType string, tweaks ...func(*zmqconfig.Config, *[]string)) (front, back string) {
	t.Helper()
	configured := strings.ToUpper(device[:1]) + device[1:] // "Streamer", as the operator writes it
	fp, bp := freePort(t), freePort(t)
	cfg := &zmqconfig.Config{Topology: "t", Namespace: "ns", Component: "d", Device: configured, Sockets: []zmqconfig.Socket{
		{Name: "frontend", Type: frontType, Bind: true, Port: fp, Endpoints: []string{fmt.Sprintf("tcp://127.0.0.1:%d", fp)}},
		{Name: "backend", Type: backType, Bind: true, Port: bp, Endpoints: []string{fmt.Sprintf("tcp://127.0.0.1:%d", bp)}},
	}}
	args := []string{"--listen", ""}
	for _, tweak := range tweaks {
		tweak(cfg, &args)
	}
	raw, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDevice(ctx, append([]string{device, "--config", path}, args...), io.Discard) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("device returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("device did not stop within 10s of cancellation")
		}
	})
	return cfg.Sockets[0].Endpoints[0], cfg.Sockets[1].Endpoints[0]
}

func TestStreamerDevice(t *testing.T) {
	front, back := startDevice(t, "streamer", "PULL", "PUSH")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	push, _ := zmtp.NewSocket(zmtp.PUSH)
	defer push.Close()
	pull, _ := zmtp.NewSocket(zmtp.PULL)
	defer pull.Close()
	if err := pull.Connect(back); err != nil {
		t.Fatal(err)
	}
	if err := push.Connect(front); err != nil {
		t.Fatal(err)
	}
	const n = 500
	go func() {
		for i := 0; i < n; i++ {
			if err := push.Send(ctx, zmtp.NewMsgString("task", strconv.Itoa(i))); err != nil {
				return
			}
		}
	}()
	for i := 0; i < n; i++ {
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if got := string(m[1]); got != strconv.Itoa(i) {
			t.Fatalf("message %d = %q; want in order from one producer", i, got)
		}
	}
}

func TestDeviceRejectsMismatchedConfig(t *testing.T) {
	cfg := &zmqconfig.Config{Device: "Queue", Sockets: []zmqconfig.Socket{{Name: "frontend", Type: "ROUTER", Bind: true}}}
	raw, _ := cfg.Marshal()
	path := filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runDevice(context.Background(), []string{"forwarder", "--config", path}, io.Discard); err == nil {
		t.Error("a forwarder started from a Queue's configuration")
	}
	if err := runDevice(context.Background(), []string{"queue", "--config", path}, io.Discard); err == nil {
		t.Error("a queue started without a backend socket")
	}
}
