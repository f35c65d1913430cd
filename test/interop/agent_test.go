package interop

// The zmq-sidecar agent, run as a subprocess, beside real applications
// written with libzmq (pebbe/zmq4) and go-zeromq/zmq4 (issue 5, acceptance
// lines 2 and 3).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// appSocket is one socket an application declares: its name in the
// topology, its type and the loopback endpoint it binds.
type appSocket struct {
	name string
	typ  zmtp.SocketType
	port int32
}

func (s appSocket) ep() string { return fmt.Sprintf("tcp://127.0.0.1:%d", s.port) }

// boundConfig is the configuration the operator mounts for a component
// whose sockets all bind ("tcp://*:<port>").
func boundConfig(socks ...appSocket) *zmqconfig.Config {
	cfg := &zmqconfig.Config{Topology: "interop", Namespace: "ns", Component: "app"}
	for _, s := range socks {
		cfg.Sockets = append(cfg.Sockets, zmqconfig.Socket{Name: s.name, Type: s.typ.String(), Bind: true, Port: s.port,
			Endpoints: []string{fmt.Sprintf("tcp://*:%d", s.port)}})
	}
	return cfg
}

func readyz(t *testing.T, agent *sidecarProc) (int, string) {
	t.Helper()
	code, body, err := scGet(agent.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// TestAgentReadinessRealApps: an application binds a PUSH, a PUB and a REP
// socket (libzmq, then go-zeromq/zmq4). /readyz is 503 while the ports are
// closed, 200 within ten probe intervals of the last bind (the delay is
// logged; the agent should need at most about one interval), and 503 again
// once the application closes one socket. A REP application never receives
// anything from the probes.
func TestAgentReadinessRealApps(t *testing.T) {
	for _, app := range []impl{libzmq, gozmq4} {
		t.Run("app="+app.name, func(t *testing.T) { testAgentReadiness(t, app) })
	}
}

func testAgentReadiness(t *testing.T, app impl) {
	const interval = 100 * time.Millisecond
	decl := []appSocket{{"tasks", zmtp.PUSH, scFreePort(t)}, {"events", zmtp.PUB, scFreePort(t)}, {"rpc", zmtp.REP, scFreePort(t)}}
	agent := startAgentProc(t, boundConfig(decl...), interval)

	// Before the application binds, every socket has been probed and has
	// failed: not ready.
	scWaitFor(t, 10*time.Second, "a failed probe of each socket", func() bool {
		m := scScrape(t, agent.base)
		for _, s := range decl {
			if m.get("zmq_sidecar_probes_total", "socket", s.name, "result", "error") < 1 {
				return false
			}
		}
		return true
	})
	if code, body := readyz(t, agent); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d %q before the application bound its sockets; want 503", code, body)
	} else {
		t.Logf("before the bind: /readyz %d %q", code, body)
	}

	zmq4log := &lineCounter{substr: "could not open a ZMTP connection"}
	socks := make([]peer, len(decl))
	for i, s := range decl {
		socks[i] = newApp(t, app, s.typ, zmq4log)
	}
	fds0 := countFDs(t)
	for i, s := range decl {
		bindAt(t, socks[i], s.ep())
	}
	// A real REP application keeps receiving; no probe may reach it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stray atomic.Int64
	repDone := recvLoop(ctx, socks[2], func(m [][]byte) { stray.Add(1); t.Errorf("the REP application received %s", show(m)) })

	waited := scWaitFor(t, 10*interval, "/readyz 200 within 10 probe intervals of the bind", func() bool {
		code, _ := readyz(t, agent)
		return code == http.StatusOK
	})
	t.Logf("%s application: /readyz 200 %s after its last bind (probe interval %s)", app.name, waited.Round(time.Millisecond), interval)
	m := scScrape(t, agent.base)
	for _, s := range decl {
		if v := m.get("zmq_sidecar_bound_socket_up", "socket", s.name, "type", s.typ.String()); v != 1 {
			t.Errorf("zmq_sidecar_bound_socket_up{socket=%q,type=%q} = %v; want 1", s.name, s.typ, v)
		}
	}

	// Ten more intervals of probing: the fd count of the application shows
	// what the probes cost it (go-zeromq/zmq4 leaks one fd per abandoned
	// handshake, and a PUSH has no silent partner to complete it as).
	time.Sleep(10 * interval)
	okAfter := scScrape(t, agent.base).get("zmq_sidecar_probes_total", "socket", "tasks", "result", "ok")
	// Connections of the latest probes may still be closing inside the
	// application (libzmq closes them in its I/O thread): wait, bounded,
	// for them to go; a leak stays.
	fds := settleFDs(t, fds0+len(decl)+2)
	t.Logf("%s application: %d fds after %.0f probes per socket (%d before the bind, +%d listeners: %+d); zmq4 logged %d failed handshakes",
		app.name, fds, okAfter, fds0, len(decl), fds-fds0-len(decl), zmq4log.n.Load())
	// After one full probe of a ZMTP 3.0 PUSH, the agent only checks that
	// it still listens (sock_diag), so the leak stops at the first probe.
	if extra := fds - fds0 - len(decl); extra > 2 {
		t.Errorf("%s application: %d extra fds after %.0f probes; the agent's probes leak", app.name, extra, okAfter)
	}

	// The application closes its REP socket: not ready any more.
	cancel()
	<-repDone
	socks[2].close()
	waited = scWaitFor(t, 10*time.Second, "/readyz 503 after the REP socket closed", func() bool {
		code, _ := readyz(t, agent)
		return code == http.StatusServiceUnavailable
	})
	code, body := readyz(t, agent)
	t.Logf("%s application closed rpc: /readyz %d %q %s later", app.name, code, body, waited.Round(time.Millisecond))
	if !strings.Contains(body, "rpc") {
		t.Errorf("/readyz says %q; want it to name the rpc socket", body)
	}
	if stray.Load() != 0 {
		t.Errorf("the REP application received %d messages from probes", stray.Load())
	}
}

// TestAgentPeerMetrics: the agent's connecting SUB and REQ sockets target
// a libzmq and a go-zeromq/zmq4 publisher and replier. Each peer is
// reported up with its Socket-Type and ZMTP version (libzmq 3.1, zmq4
// 3.0), libzmq peers with a PING round trip and zmq4 peers without one
// (a PING would reach a zmq4 application), the repliers never receive a
// message, and a peer going away is reported down without affecting
// readiness.
func TestAgentPeerMetrics(t *testing.T) {
	const interval = 100 * time.Millisecond
	type target struct {
		impl    impl
		typ     zmtp.SocketType
		socket  string
		version string
		p       peer
		ep      string
	}
	targets := []*target{
		{impl: libzmq, typ: zmtp.PUB, socket: "events", version: "3.1"},
		{impl: gozmq4, typ: zmtp.PUB, socket: "events", version: "3.0"},
		{impl: libzmq, typ: zmtp.REP, socket: "rpc", version: "3.1"},
		{impl: gozmq4, typ: zmtp.REP, socket: "rpc", version: "3.0"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stray atomic.Int64
	cfg := &zmqconfig.Config{Topology: "interop", Namespace: "ns", Component: "client", Sockets: []zmqconfig.Socket{
		{Name: "events", Type: "SUB"}, {Name: "rpc", Type: "REQ"},
	}}
	for _, tg := range targets {
		tg.p = tg.impl.new(t, tg.typ, "")
		tg.ep = tg.p.bind(t)
		s := cfg.Socket(tg.socket)
		s.Endpoints = append(s.Endpoints, tg.ep)
		s.Peer = &zmqconfig.Peer{Component: "server", Socket: tg.socket, Type: tg.typ.String()}
		if tg.typ == zmtp.REP {
			defer func(d <-chan struct{}) { cancel(); <-d }(recvLoop(ctx, tg.p, func(m [][]byte) {
				stray.Add(1)
				t.Errorf("%s REP application received %s", tg.impl.name, show(m))
			}))
		}
	}
	agent := startAgentProc(t, cfg, interval)

	var m samples
	scWaitFor(t, 10*time.Second, "every peer up and probed 5 times", func() bool {
		m = scScrape(t, agent.base)
		for _, tg := range targets {
			if m.get("zmq_sidecar_peer_up", "socket", tg.socket, "endpoint", tg.ep) != 1 {
				return false
			}
		}
		return m.get("zmq_sidecar_probes_total", "socket", "events", "result", "ok") >= 10 &&
			m.get("zmq_sidecar_probes_total", "socket", "rpc", "result", "ok") >= 10
	})
	for _, tg := range targets {
		info := m.find("zmq_sidecar_peer_info", "socket", tg.socket, "endpoint", tg.ep)
		if len(info) != 1 || info[0].labels["peer_type"] != tg.typ.String() || info[0].labels["zmtp_version"] != tg.version || info[0].value != 1 {
			t.Errorf("%s %s: zmq_sidecar_peer_info = %v; want peer_type=%q zmtp_version=%q", tg.impl.name, tg.typ, info, tg.typ, tg.version)
		}
		hs := m.get("zmq_sidecar_peer_handshake_seconds", "socket", tg.socket, "endpoint", tg.ep)
		rtt := m.get("zmq_sidecar_peer_ping_rtt_seconds", "socket", tg.socket, "endpoint", tg.ep)
		switch {
		case tg.impl.name == libzmq.name && rtt <= 0:
			t.Errorf("no PING round trip for the libzmq %s", tg.typ)
		case tg.impl.name == gozmq4.name && rtt != -1:
			t.Errorf("a PING round trip (%v s) was measured against the ZMTP 3.0 zmq4 %s", rtt, tg.typ)
		}
		ping := "none"
		if rtt > 0 {
			ping = fmt.Sprintf("%.3f ms", rtt*1e3)
		}
		t.Logf("%-6s %s %s: peer_type=%s zmtp=%s handshake %.3f ms, ping rtt %s",
			tg.impl.name, tg.typ, tg.ep, info[0].labels["peer_type"], info[0].labels["zmtp_version"], hs*1e3, ping)
	}
	t.Logf("probes: events %.0f ok / %.0f error, rpc %.0f ok / %.0f error",
		m.get("zmq_sidecar_probes_total", "socket", "events", "result", "ok"), m.get("zmq_sidecar_probes_total", "socket", "events", "result", "error"),
		m.get("zmq_sidecar_probes_total", "socket", "rpc", "result", "ok"), m.get("zmq_sidecar_probes_total", "socket", "rpc", "result", "error"))

	// A peer goes away: it is reported down; readiness does not follow.
	targets[0].p.close()
	scWaitFor(t, 10*time.Second, "the closed libzmq PUB reported down", func() bool {
		return scScrape(t, agent.base).get("zmq_sidecar_peer_up", "socket", "events", "endpoint", targets[0].ep) == 0
	})
	if code, body := readyz(t, agent); code != http.StatusOK {
		t.Errorf("/readyz = %d %q with a peer down; peers must not affect readiness", code, body)
	}
	if n := stray.Load(); n != 0 {
		t.Errorf("REP applications received %d messages from probes", n)
	}
	agent.stop(t) // while its peers are still up
}

// TestAgentSocketStats: an application (libzmq, then go-zeromq/zmq4) sends
// 2,000 messages of 1 KiB through its bound PUSH to a libzmq worker;
// zmq_sidecar_socket_sent_bytes_total{socket="tasks"} grows by the bytes
// sent within +-10% (ZMTP framing and probe greetings are the difference).
func TestAgentSocketStats(t *testing.T) {
	for _, app := range []impl{libzmq, gozmq4} {
		t.Run("app="+app.name, func(t *testing.T) {
			res := runProbedPush(t, app, 100*time.Millisecond, 2000, 1024, 0)
			t.Logf("%s PUSH: %d bytes sent, counter grew by %.0f (%+.2f%%), %.0f probes", app.name, res.sent, res.counted,
				(res.counted/float64(res.sent)-1)*100, res.probes)
		})
	}
}

// TestAgentProbedPushLosesNothing: the agent probes a libzmq application's
// bound PUSH every 25 ms while it sends 3,000 messages to a libzmq PULL
// worker: the worker receives all 3,000, and at least 60 probes ran during
// the transfer (sends are paced on the probe counter so that they
// interleave).
func TestAgentProbedPushLosesNothing(t *testing.T) {
	res := runProbedPush(t, libzmq, 25*time.Millisecond, 3000, 1024, 60)
	t.Logf("worker received %d of 3000 messages; %.0f probes of the bound PUSH during the transfer (%.0f ok in all, %.0f failed during it); byte counter %.0f for %d sent",
		res.received, res.probesDuring, res.probes, res.probeErrors, res.counted, res.sent)
	if res.probesDuring < 30 {
		t.Errorf("only %.0f probes during the transfer; want at least 30", res.probesDuring)
	}
	if res.probeErrors > 0 {
		t.Errorf("%.0f probes of the bound PUSH failed", res.probeErrors)
	}
}

type probedPushResult struct {
	sent, received                             int
	counted, probes, probesDuring, probeErrors float64
}

// runProbedPush runs the agent beside an application that binds a PUSH
// ("tasks") and sends n messages of size bytes to a libzmq PULL worker.
// With minProbes > 0 the sends are paced so that at least minProbes probes
// complete while they are under way. It fails the test on any loss or a
// byte counter off by more than 10%.
func runProbedPush(t *testing.T, app impl, interval time.Duration, n, size int, minProbes int) probedPushResult {
	t.Helper()
	decl := appSocket{"tasks", zmtp.PUSH, scFreePort(t)}
	agent := startAgentProc(t, boundConfig(decl), interval)
	push := newApp(t, app, zmtp.PUSH, io.Discard)
	bindAt(t, push, decl.ep())
	scWaitFor(t, 10*time.Second, "/readyz 200", func() bool { code, _ := readyz(t, agent); return code == http.StatusOK })

	worker := libzmq.new(t, zmtp.PULL, "")
	worker.connect(t, decl.ep())
	// Warm up until the worker is attached (zmq4 drops sends with no peer).
	for i := 0; ; i++ {
		if i == 100 {
			t.Fatal("the worker never received a warm-up message")
		}
		_ = push.send([]byte("warmup"))
		if _, err := worker.recv(50 * time.Millisecond); err == nil {
			break
		}
	}
	for {
		if _, err := worker.recv(100 * time.Millisecond); err != nil {
			break // drained
		}
	}
	probes := func(m samples) float64 { return m.get("zmq_sidecar_probes_total", "socket", "tasks", "result", "ok") }
	m0 := scScrape(t, agent.base)
	before, probes0 := m0.get("zmq_sidecar_socket_sent_bytes_total", "socket", "tasks"), probes(m0)
	errors0 := m0.get("zmq_sidecar_probes_total", "socket", "tasks", "result", "error")

	received := make(chan int, 1)
	go func() {
		got := 0
		for got < n {
			m, err := worker.recv(recvWait)
			if err != nil {
				break
			}
			if len(m) == 1 && len(m[0]) == size {
				got++
			}
		}
		received <- got
	}()
	payload := make([]byte, size)
	const batch = 100
	perBatch := 0.0
	if minProbes > 0 {
		perBatch = float64(minProbes) / float64(n/batch)
	}
	for i := 0; i < n; i++ {
		if err := push.send(payload); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if minProbes > 0 && i%batch == batch-1 {
			want := probes0 + perBatch*float64(i+1)/batch
			scWaitFor(t, 10*time.Second, "the agent's probes to keep pace", func() bool { return probes(scScrape(t, agent.base)) >= want })
		}
	}
	res := probedPushResult{sent: n * size, received: <-received}
	if res.received != n {
		t.Fatalf("worker received %d of %d messages", res.received, n)
	}
	scWaitFor(t, 5*time.Second, "sent-bytes counter to reach the bytes sent", func() bool {
		res.counted = scScrape(t, agent.base).get("zmq_sidecar_socket_sent_bytes_total", "socket", "tasks") - before
		return res.counted >= 0.9*float64(res.sent)
	})
	m := scScrape(t, agent.base)
	res.probes = probes(m)
	res.probesDuring = res.probes - probes0
	res.probeErrors = m.get("zmq_sidecar_probes_total", "socket", "tasks", "result", "error") - errors0
	if res.counted > 1.1*float64(res.sent) {
		t.Errorf("zmq_sidecar_socket_sent_bytes_total grew by %.0f for %d bytes sent; want within 10%%", res.counted, res.sent)
	}
	return res
}
