package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

func getStatus(t *testing.T, base string) agentstatus.Document {
	t.Helper()
	resp, err := http.Get(base + agentstatus.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", agentstatus.Path, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc agentstatus.Document
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestAgentStatusDocument runs the agent beside an application with a bound
// PUSH (one worker connected) and a SUB that connects to a live publisher
// and to a port nobody listens on: /status reports the listener, the live
// peer up with its type, version, latency and the application's connection
// to it, the dead peer down with the kernel's error, and the bound socket's
// connection and bytes.
func TestAgentStatusDocument(t *testing.T) {
	t.Setenv("POD_NAME", "app-7c9f-x2")
	const interval = 25 * time.Millisecond

	pub, err := zmtp.NewSocket(zmtp.PUB)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pubEP, err := pub.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadEP := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))

	pushPort := freePort(t)
	push, err := zmtp.NewSocket(zmtp.PUSH)
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	if _, err := push.Bind(fmt.Sprintf("tcp://127.0.0.1:%d", pushPort)); err != nil {
		t.Fatal(err)
	}
	pull, err := zmtp.NewSocket(zmtp.PULL)
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	if err := pull.Connect(fmt.Sprintf("tcp://127.0.0.1:%d", pushPort)); err != nil {
		t.Fatal(err)
	}
	// The application's own SUB, connected to the live publisher only.
	sub, err := zmtp.NewSocket(zmtp.SUB)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Connect(pubEP); err != nil {
		t.Fatal(err)
	}

	cfg := &zmqconfig.Config{Topology: "fabric", Namespace: "ns", Component: "app", Sockets: []zmqconfig.Socket{
		{Name: "tasks", Type: "PUSH", Bind: true, Port: pushPort, Endpoints: []string{fmt.Sprintf("tcp://*:%d", pushPort)}},
		{Name: "events", Type: "SUB", Endpoints: []string{pubEP, deadEP}},
	}}
	start := time.Now()
	base := startAgent(t, cfg, interval)

	// Sent bytes: a message through the bound PUSH.
	ctx := t.Context()
	if err := push.Send(ctx, zmtp.NewMsg(make([]byte, 4096))); err != nil {
		t.Fatal(err)
	}
	if _, err := pull.Recv(ctx); err != nil {
		t.Fatal(err)
	}

	var doc agentstatus.Document
	defer func() {
		if t.Failed() {
			out, _ := json.MarshalIndent(doc, "", "  ")
			t.Logf("last document: %s", out)
		}
	}()
	waitUntil(t, 10*time.Second, "every target probed, the application's connections seen", func() bool {
		doc = getStatus(t, base)
		if len(doc.Sockets) != 2 || doc.Sockets[0].Listener == nil || len(doc.Sockets[1].Peers) != 2 {
			return false
		}
		tasks, events := doc.Sockets[0], doc.Sockets[1]
		return tasks.Listener.Up && tasks.Connections == 1 && tasks.BytesSent >= 4096 &&
			events.Peers[0].Up && events.Peers[0].Connections == 1 && events.Peers[1].Probed
	})
	out, _ := json.MarshalIndent(doc, "", "  ")
	t.Logf("%s", out)

	if doc.APIVersion != agentstatus.APIVersion || doc.Topology != "fabric" || doc.Namespace != "ns" || doc.Component != "app" || doc.Pod != "app-7c9f-x2" {
		t.Errorf("identity: %+v", doc)
	}
	if doc.Time.Before(start) {
		t.Errorf("time %s before the agent started", doc.Time)
	}
	tasks := doc.Sockets[0]
	if tasks.Name != "tasks" || tasks.Type != "PUSH" || !tasks.Bind || tasks.Port != pushPort || len(tasks.Peers) != 0 {
		t.Errorf("tasks: %+v", tasks)
	}
	if l := tasks.Listener; l.PeerSocketType != "PUSH" || l.ZMTPVersion != "3.1" || l.HandshakeMicros <= 0 || l.Successes == 0 || l.LastProbe.Before(start) {
		t.Errorf("tasks listener: %+v", *l)
	}

	events := doc.Sockets[1]
	if events.Bind || events.Listener != nil || events.Port != 0 {
		t.Errorf("events: %+v", events)
	}
	live, dead := events.Peers[0], events.Peers[1]
	wantAddr := strings.TrimPrefix(pubEP, "tcp://")
	if live.Endpoint != pubEP || len(live.Addresses) != 1 || live.Addresses[0] != wantAddr {
		t.Errorf("live peer endpoint/addresses: %+v", live)
	}
	if live.PeerSocketType != "PUB" || live.ZMTPVersion != "3.1" || live.HandshakeMicros <= 0 || live.LastError != "" {
		t.Errorf("live peer: %+v", live)
	}
	// PING is sent to a PUB after a silent SUB handshake: its RTT is there.
	if live.PingRTTMicros <= 0 || live.RTTMicros() != live.PingRTTMicros {
		t.Errorf("live peer PING RTT: %+v", live)
	}
	if dead.Up || !strings.Contains(dead.LastError, "connection refused") || dead.Failures == 0 || dead.Connections != 0 || dead.PeerSocketType != "" {
		t.Errorf("dead peer: %+v", dead)
	}
	// The socket counts the application's connection only, not the
	// agent's short-lived probes.
	if events.Connections != 1 {
		t.Errorf("events connections = %d; want 1", events.Connections)
	}

	// The publisher goes away: the live peer turns down with the error.
	pub.Close()
	waitUntil(t, 10*time.Second, "peer down", func() bool {
		p := getStatus(t, base).Sockets[1].Peers[0]
		return !p.Up && p.LastError != ""
	})
}
