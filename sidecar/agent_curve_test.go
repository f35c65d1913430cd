package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmqsocket"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// TestAgentCurve runs the agent of a CURVE component against real CURVE
// sockets: its bound PUSH and XPUB servers and a PUB peer it connects to.
// The agent authenticates with the component's own key: the pod is ready
// once both servers answer, the peer is up with its type read from the
// encrypted READY, a worker attached to the PUSH loses no message to the
// probes, and removing the component's own key from the XPUB's allowed
// directory makes the pod unready (and adding it back, ready) without a
// restart.
func TestAgentCurve(t *testing.T) {
	const interval = 25 * time.Millisecond
	dir := t.TempDir()
	self, worker, peerKeys := writeCurveKeys(t, dir, "self"), writeCurveKeys(t, dir, "worker"), writeCurveKeys(t, dir, "peer")
	selfPub := filepath.Join(dir, "self.public")
	peerPub := filepath.Join(dir, "peer.public")
	for p, k := range map[string]curveKeyFiles{selfPub: self, peerPub: peerKeys} {
		if err := os.WriteFile(p, []byte(k.pub.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pushAllowed, xpubAllowed, peerAllowed := filepath.Join(dir, "allowed-tasks"), filepath.Join(dir, "allowed-events"), filepath.Join(dir, "allowed-peer")
	allowKey(t, pushAllowed, self)
	allowKey(t, pushAllowed, worker)
	allowKey(t, xpubAllowed, self)
	allowKey(t, peerAllowed, self)

	server := func(allowed string) *zmqconfig.Security {
		return &zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: self.secPath, PublicKeyFile: selfPub, AllowedClientKeysDir: allowed}
	}
	// The peer: a CURVE PUB server that allows our component's key.
	peerOpts, err := zmqsocket.SecurityOptions(&zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: peerKeys.secPath, AllowedClientKeysDir: peerAllowed}, "peer")
	if err != nil {
		t.Fatal(err)
	}
	peer, err := zmtp.NewSocket(zmtp.PUB, peerOpts...)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peerEP, err := peer.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	pushPort, xpubPort := freePort(t), freePort(t)
	cfg := &zmqconfig.Config{Topology: "t", Namespace: "ns", Component: "app", Sockets: []zmqconfig.Socket{
		{Name: "tasks", Type: "PUSH", Bind: true, Port: pushPort, Endpoints: []string{fmt.Sprintf("tcp://*:%d", pushPort)}, Security: server(pushAllowed)},
		{Name: "events", Type: "XPUB", Bind: true, Port: xpubPort, Endpoints: []string{fmt.Sprintf("tcp://*:%d", xpubPort)}, Security: server(xpubAllowed)},
		{Name: "feed", Type: "SUB", Endpoints: []string{peerEP}, Peer: &zmqconfig.Peer{Component: "peer", Socket: "out", Type: "PUB"},
			Security: &zmqconfig.Security{Mechanism: "CURVE", SecretKeyFile: self.secPath, ServerPublicKeyFile: peerPub}},
	}}
	// The application's sockets, opened the way applications do.
	open := func(name string, typ zmtp.SocketType) *zmtp.Socket {
		s := cfg.Socket(name)
		opts, err := zmqsocket.SecurityOptions(s.Security, name)
		if err != nil {
			t.Fatal(err)
		}
		sock, err := zmtp.NewSocket(typ, append(opts, zmtp.WithSendHWM(0))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sock.Close() })
		if _, err := sock.Bind(fmt.Sprintf("tcp://127.0.0.1:%d", s.Port)); err != nil {
			t.Fatal(err)
		}
		return sock
	}
	push, xpub := open("tasks", zmtp.PUSH), open("events", zmtp.XPUB)
	base := startAgent(t, cfg, interval)
	waitUntil(t, 10*time.Second, "/readyz 200", func() bool { return status(t, base+"/readyz") == http.StatusOK })
	waitUntil(t, 10*time.Second, "peer up", func() bool {
		m := scrape(t, base)
		return m[`zmq_sidecar_peer_up{endpoint="`+peerEP+`",socket="feed"}`] == 1 &&
			m[`zmq_sidecar_peer_info{endpoint="`+peerEP+`",peer_type="PUB",socket="feed",zmtp_version="3.1"}`] == 1
	})

	// A worker on the PUSH gets every message while the agent probes.
	workerOpts, err := zmqsocket.SecurityOptions(&zmqconfig.Security{Mechanism: "CURVE", SecretKeyFile: worker.secPath, ServerPublicKeyFile: selfPub}, "worker")
	if err != nil {
		t.Fatal(err)
	}
	pull, err := zmtp.NewSocket(zmtp.PULL, workerOpts...)
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	if err := pull.Connect(fmt.Sprintf("tcp://127.0.0.1:%d", pushPort)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 2000
	go func() {
		for i := 0; i < n; i++ {
			if err := push.Send(ctx, zmtp.NewMsgString(fmt.Sprint(i))); err != nil {
				return
			}
			if i%100 == 0 {
				time.Sleep(interval) // let probes interleave
			}
		}
	}()
	for i := 0; i < n; i++ {
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if string(m[0]) != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q (lost to a probe?)", i, m[0])
		}
	}
	if h := push.Stats().Handshakes; h != 1 {
		t.Fatalf("the PUSH completed %d handshakes; only the worker's may complete", h)
	}

	// The allowed directory is read at every handshake: without the
	// component's own key the XPUB refuses the probe and the pod is unready.
	ents, _ := os.ReadDir(xpubAllowed)
	for _, e := range ents {
		_ = os.Remove(filepath.Join(xpubAllowed, e.Name()))
	}
	waitUntil(t, 10*time.Second, "/readyz 503", func() bool { return status(t, base+"/readyz") == http.StatusServiceUnavailable })
	if xpub.Stats().AuthFailures == 0 {
		t.Fatal("the XPUB counted no refused probe")
	}
	allowKey(t, xpubAllowed, self)
	waitUntil(t, 10*time.Second, "/readyz 200 again", func() bool { return status(t, base+"/readyz") == http.StatusOK })
}

// TestPingCurveSocket: `zmq-sidecar ping --socket` authenticates with the
// component's key and reads the type from the encrypted READY; without
// --socket a CURVE peer only shows its greeting.
func TestPingCurveSocket(t *testing.T) {
	dir := t.TempDir()
	self, server := writeCurveKeys(t, dir, "self"), writeCurveKeys(t, dir, "server")
	serverPub := filepath.Join(dir, "server.public")
	if err := os.WriteFile(serverPub, []byte(server.pub.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(dir, "allowed")
	allowKey(t, allowed, self)
	opts, err := zmqsocket.SecurityOptions(&zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: server.secPath, AllowedClientKeysDir: allowed}, "server")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := zmtp.NewSocket(zmtp.PUB, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ep, err := pub.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &zmqconfig.Config{Topology: "t", Namespace: "ns", Component: "app", Sockets: []zmqconfig.Socket{
		{Name: "feed", Type: "SUB", Endpoints: []string{ep}, Peer: &zmqconfig.Peer{Component: "server", Socket: "out", Type: "PUB"},
			Security: &zmqconfig.Security{Mechanism: "CURVE", SecretKeyFile: self.secPath, ServerPublicKeyFile: serverPub}},
	}}
	raw, _ := cfg.Marshal()
	path := filepath.Join(dir, "topology.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := runPing(context.Background(), []string{"--config", path, "--socket", "feed", "--mode", "ping", ep}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mechanism:   CURVE", "curve:       server key verified", "socket-type: PUB", "ping rtt:"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("missing %q in:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := runPing(context.Background(), []string{ep}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "socket-type") || !strings.Contains(out.String(), "mechanism:   CURVE") {
		t.Fatalf("without keys:\n%s", out.String())
	}
}
