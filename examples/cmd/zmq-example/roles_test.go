package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// The roles run on loopback with configurations shaped like the ones the
// operator mounts, against real peers: our own sockets and go-zeromq/zmq4.

func freePort(t *testing.T) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

func writeConfig(t *testing.T, component string, sockets ...zmqconfig.Socket) string {
	t.Helper()
	cfg := &zmqconfig.Config{Topology: "t", Namespace: "ns", Component: component, Sockets: sockets}
	raw, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), component+".json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// start runs a role until the test ends.
func start(t *testing.T, name, host, config string, rate float64, topics ...string) *app {
	t.Helper()
	return startCounted(t, name, host, config, rate, 0, topics...)
}

// startCounted runs a role that stops producing after count messages.
func startCounted(t *testing.T, name, host, config string, rate float64, count int, topics ...string) *app {
	t.Helper()
	a := &app{host: host, config: config, rate: rate, count: count, topics: topics, stats: map[string]any{}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := roles[name](ctx, a); err != nil && ctx.Err() == nil {
			t.Errorf("%s %s: %v", name, host, err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func stat(a *app, key string) any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats[key]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPipelineRoles(t *testing.T) {
	tasks, results := freePort(t), freePort(t)
	tcp := func(p int32) []string { return []string{fmt.Sprintf("tcp://127.0.0.1:%d", p)} }
	sink := start(t, "sink", "sink-0", writeConfig(t, "sink",
		zmqconfig.Socket{Name: "results", Type: "PULL", Bind: true, Port: results, Endpoints: tcp(results)}), 0)
	workerCfg := writeConfig(t, "worker",
		zmqconfig.Socket{Name: "tasks", Type: "PULL", Endpoints: tcp(tasks)},
		zmqconfig.Socket{Name: "results", Type: "PUSH", Endpoints: tcp(results)})
	start(t, "worker", "worker-a", workerCfg, 0)
	start(t, "worker", "worker-b", workerCfg, 0)
	vent := start(t, "ventilator", "vent-0", writeConfig(t, "ventilator",
		zmqconfig.Socket{Name: "tasks", Type: "PUSH", Bind: true, Port: tasks, Endpoints: tcp(tasks)}), 500)

	waitFor(t, "300 tasks", func() bool { n, _ := stat(vent, "sent").(int); return n >= 300 })
	vent.paused.Store(true)
	time.Sleep(100 * time.Millisecond) // let a tick in progress finish
	sent := stat(vent, "sent").(int)
	waitFor(t, "every task at the sink", func() bool { n, _ := stat(sink, "received").(int); return n == sent })
	if d := stat(sink, "duplicates").(int); d != 0 {
		t.Errorf("%d duplicates", d)
	}
	sink.mu.Lock()
	byWorker := sink.stats["byWorker"].(map[string]int)
	if byWorker["worker-a"] == 0 || byWorker["worker-b"] == 0 {
		t.Errorf("work not spread over both workers: %v", byWorker)
	}
	sink.mu.Unlock()
}

func TestRequestReplyRolesWithZmq4Server(t *testing.T) {
	port := freePort(t)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	t.Setenv("ZMQ_REQUESTS_TYPE", "REP")
	t.Setenv("ZMQ_REQUESTS_ENDPOINTS", ep)
	t.Setenv("ZMQ_REQUESTS_BIND", "true")
	server := start(t, "server", "server-0", "", 0)
	client := start(t, "client", "client-0", writeConfig(t, "client",
		zmqconfig.Socket{Name: "requests", Type: "REQ", Endpoints: []string{ep}}), 200)
	waitFor(t, "100 replies", func() bool { n, _ := stat(client, "replies").(int); return n >= 100 })
	if lost, _ := stat(client, "lost").(int); lost != 0 {
		t.Errorf("%d requests lost", lost)
	}
	if n, _ := stat(server, "served").(int); n < 100 {
		t.Errorf("server served %d", n)
	}
}

func TestPubSubRoles(t *testing.T) {
	port := freePort(t)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	sub := start(t, "subscriber", "sub-0", writeConfig(t, "sub",
		zmqconfig.Socket{Name: "in", Type: "SUB", Bind: true, Port: port, Endpoints: []string{ep}}), 0, "news")
	pubCfg := writeConfig(t, "pub", zmqconfig.Socket{Name: "out", Type: "PUB", Endpoints: []string{ep}})
	start(t, "publisher", "pub-a", pubCfg, 200, "news", "prices")
	start(t, "publisher", "pub-b", pubCfg, 200, "news", "prices")
	waitFor(t, "news from both publishers", func() bool {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		byPub, _ := sub.stats["byPublisher"].(map[string]int)
		return byPub["pub-a"] > 20 && byPub["pub-b"] > 20
	})
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if byTopic := sub.stats["byTopic"].(map[string]int); byTopic["prices"] != 0 || byTopic["news"] == 0 {
		t.Errorf("byTopic = %v; want news only", byTopic)
	}
	if u := sub.stats["unexpected"].(int); u != 0 {
		t.Errorf("%d messages of topics not subscribed to", u)
	}
}

// TestSubscriberFollowsEndpoints moves a subscriber from one publisher to
// another by rewriting its configuration file (as the kubelet does under
// endpointUpdates: Live): it then hears the second publisher without a
// restart, and its /stats shows the new endpoints.
func TestSubscriberFollowsEndpoints(t *testing.T) {
	portA, portB := freePort(t), freePort(t)
	epA, epB := fmt.Sprintf("tcp://127.0.0.1:%d", portA), fmt.Sprintf("tcp://127.0.0.1:%d", portB)
	start(t, "publisher", "pub-a", writeConfig(t, "pub-a", zmqconfig.Socket{Name: "out", Type: "XPUB", Bind: true, Port: portA, Endpoints: []string{epA}}), 200, "news")
	start(t, "publisher", "pub-b", writeConfig(t, "pub-b", zmqconfig.Socket{Name: "out", Type: "XPUB", Bind: true, Port: portB, Endpoints: []string{epB}}), 200, "news")
	subCfg := writeConfig(t, "sub", zmqconfig.Socket{Name: "in", Type: "SUB", Endpoints: []string{epA}})
	sub := start(t, "subscriber", "sub-0", subCfg, 0, "news")
	heard := func(pub string) int {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		byPub, _ := sub.stats["byPublisher"].(map[string]int)
		return byPub[pub]
	}
	waitFor(t, "news from A", func() bool { return heard("pub-a") > 10 })
	if n := heard("pub-b"); n != 0 {
		t.Fatalf("heard B %d times before being told about it", n)
	}

	cfg := &zmqconfig.Config{Topology: "t", Namespace: "ns", Component: "sub", Sockets: []zmqconfig.Socket{{Name: "in", Type: "SUB", Endpoints: []string{epB}}}}
	raw, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(subCfg+".new", raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(subCfg+".new", subCfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "news from B", func() bool { return heard("pub-b") > 10 })
	a := heard("pub-a")
	time.Sleep(200 * time.Millisecond)
	if heard("pub-a") != a {
		t.Errorf("still hearing A after it left the file")
	}
	if eps, _ := stat(sub, "endpoints").(map[string][]string); len(eps["in"]) != 1 || eps["in"][0] != epB {
		t.Errorf("/stats endpoints = %v", eps)
	}
}

// TestSlowWorker: --work makes a worker spend that long per task (it can
// never process more than elapsed/work tasks), and --size pads tasks on
// the wire, which the worker strips before passing them on.
func TestSlowWorker(t *testing.T) {
	tasks, results := freePort(t), freePort(t)
	tcp := func(p int32) []string { return []string{fmt.Sprintf("tcp://127.0.0.1:%d", p)} }
	sink, err := zmtp.NewSocket(zmtp.PULL)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if _, err := sink.Bind(tcp(results)[0]); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	worker := startWith(t, "worker", "worker-slow", writeConfig(t, "worker",
		zmqconfig.Socket{Name: "tasks", Type: "PULL", Endpoints: tcp(tasks)},
		zmqconfig.Socket{Name: "results", Type: "PUSH", Endpoints: tcp(results)}), func(a *app) { a.work = 50 * time.Millisecond })
	startWith(t, "ventilator", "vent-0", writeConfig(t, "ventilator",
		zmqconfig.Socket{Name: "tasks", Type: "PUSH", Bind: true, Port: tasks, Endpoints: tcp(tasks)}), func(a *app) { a.rate, a.size = 500, 4096 })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 10 {
		m, err := sink.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("vent-0:%d|worker-slow", i); string(m[0]) != want {
			t.Fatalf("result %d is %d bytes %.40q, want %q (padding stripped)", i, len(m[0]), m[0], want)
		}
	}
	n, _ := stat(worker, "processed").(int)
	if most := int(time.Since(began)/(50*time.Millisecond)) + 1; n > most {
		t.Errorf("worker processed %d tasks in %s at 50ms each (at most %d)", n, time.Since(began), most)
	}
}

// startWith runs a role with flags set by set.
func startWith(t *testing.T, name, host, config string, set func(*app)) *app {
	t.Helper()
	a := &app{host: host, config: config, rate: 1, stats: map[string]any{}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	set(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := roles[name](ctx, a); err != nil && ctx.Err() == nil {
			t.Errorf("%s %s: %v", name, host, err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

// TestCountedPipeline: a ventilator with --count sends exactly that many
// numbered tasks and says done; the sink counts each once.
func TestCountedPipeline(t *testing.T) {
	tasks, results := freePort(t), freePort(t)
	tcp := func(p int32) []string { return []string{fmt.Sprintf("tcp://127.0.0.1:%d", p)} }
	sink := start(t, "sink", "sink-0", writeConfig(t, "sink",
		zmqconfig.Socket{Name: "results", Type: "PULL", Bind: true, Port: results, Endpoints: tcp(results)}), 0)
	start(t, "worker", "worker-a", writeConfig(t, "worker",
		zmqconfig.Socket{Name: "tasks", Type: "PULL", Endpoints: tcp(tasks)},
		zmqconfig.Socket{Name: "results", Type: "PUSH", Endpoints: tcp(results)}), 0)
	vent := startCounted(t, "ventilator", "vent-0", writeConfig(t, "ventilator",
		zmqconfig.Socket{Name: "tasks", Type: "PUSH", Bind: true, Port: tasks, Endpoints: tcp(tasks)}), 2000, 300)
	waitFor(t, "the ventilator done", func() bool { d, _ := stat(vent, "done").(bool); return d })
	if n := stat(vent, "sent").(int); n != 300 {
		t.Fatalf("ventilator sent %d; want exactly 300", n)
	}
	waitFor(t, "300 tasks at the sink", func() bool { n, _ := stat(sink, "received").(int); return n == 300 })
	time.Sleep(200 * time.Millisecond)
	if n := stat(sink, "received").(int); n != 300 {
		t.Fatalf("sink received %d distinct tasks; want 300", n)
	}
	if d := stat(sink, "duplicates").(int); d != 0 {
		t.Errorf("%d duplicates", d)
	}
}

// TestClientRetriesWhenThePeerLeaves: the client's request goes to a REP
// that leaves without replying; the REQ reports ErrPeerGone, and the
// client asks again (through the other endpoint), so no reply is lost.
func TestClientRetriesWhenThePeerLeaves(t *testing.T) {
	ctx := context.Background()
	leaver, err := zmtp.NewSocket(zmtp.REP)
	if err != nil {
		t.Fatal(err)
	}
	leaverEP, err := leaver.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	replier := start(t, "replier", "replier-0", writeConfig(t, "replier",
		zmqconfig.Socket{Name: "requests", Type: "REP", Bind: true, Port: port, Endpoints: []string{ep}}), 0)
	// The leaver takes the first request and goes without replying.
	go func() {
		if _, err := leaver.Recv(ctx); err == nil {
			leaver.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	client := startCounted(t, "client", "client-0", writeConfig(t, "client",
		zmqconfig.Socket{Name: "requests", Type: "REQ", Endpoints: []string{leaverEP, ep}}), 100, 20)
	waitFor(t, "the client done", func() bool { d, _ := stat(client, "done").(bool); return d })
	if n, _ := stat(client, "replies").(int); n != 20 {
		t.Errorf("%d replies; want 20", n)
	}
	if n, _ := stat(client, "lost").(int); n != 0 {
		t.Errorf("%d lost", n)
	}
	if n, _ := stat(client, "retries").(int); n < 1 {
		t.Errorf("%d retries; want at least 1 (the leaver's)", n)
	}
	if n, _ := stat(replier, "served").(int); n < 20 {
		t.Errorf("replier served %d", n)
	}
}
