package interop

import (
	"errors"
	"fmt"
	"testing"
	"time"

	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// CURVE (RFC 26) against libzmq 4.3 built with libsodium: our client with
// libzmq's server and the reverse, for the socket pairs the samples use,
// both bind directions; then the refusals: a wrong server key and an
// unauthorised client key, refused and counted on each side (ours by
// Stats.AuthFailures, libzmq's by its monitor events, its refusals by a
// ZAP handler, RFC 27, in the test).

// requireCurve skips when the installed libzmq has no CURVE.
func requireCurve(t *testing.T) {
	t.Helper()
	if !czmq.HasCurve() {
		t.Skip(`libzmq was built without CURVE (zmq_has("curve") is false); install a libzmq built with libsodium (Debian's libzmq5 is)`)
	}
}

// curvePair is a long-term key pair in both forms.
type curvePair struct {
	pub zmtp.CurvePublicKey
	sec zmtp.CurveSecretKey
}

func newCurvePair(t *testing.T) curvePair {
	t.Helper()
	pub, sec, err := zmtp.GenerateCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return curvePair{pub, sec}
}

// curveRole configures one peer as CURVE server or client.
type curveRole struct {
	server        bool
	keys          curvePair
	serverKey     zmtp.CurvePublicKey // client only
	allow         []zmtp.CurvePublicKey
	zapDomain     string
	authorizerSet bool
}

func newOursCurve(t *testing.T, typ zmtp.SocketType, identity string, r curveRole) *oursPeer {
	opts := []zmtp.Option{zmtp.WithLinger(time.Second), zmtp.WithReconnectInterval(50*time.Millisecond, 200*time.Millisecond)}
	if identity != "" {
		opts = append(opts, zmtp.WithIdentity([]byte(identity)))
	}
	if r.server {
		opts = append(opts, zmtp.WithCurveServer(r.keys.sec))
		if r.authorizerSet {
			opts = append(opts, zmtp.WithCurveAuthorizer(zmtp.CurveAllowList(r.allow...)))
		}
	} else {
		opts = append(opts, zmtp.WithCurveClient(r.serverKey, r.keys.pub, r.keys.sec))
	}
	s, err := zmtp.NewSocket(typ, opts...)
	if err != nil {
		t.Fatal(err)
	}
	p := &oursPeer{s}
	t.Cleanup(p.close)
	return p
}

func newLibzmqCurve(t *testing.T, typ zmtp.SocketType, identity string, r curveRole) *libzmqPeer {
	p := newLibzmq(t, typ, identity).(*libzmqPeer)
	var err error
	if r.server {
		domain := r.zapDomain
		if domain == "" {
			domain = "global"
		}
		err = p.s.ServerAuthCurve(domain, r.keys.sec.Z85())
	} else {
		err = errors.Join(
			p.s.SetCurveServerkey(r.serverKey.String()),
			p.s.SetCurvePublickey(r.keys.pub.String()),
			p.s.SetCurveSecretkey(r.keys.sec.Z85()))
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var curveScenarios = []scenario{
	{zmtp.PUSH, zmtp.PULL, runPipeline},
	{zmtp.PUB, zmtp.SUB, runPubSub},
	{zmtp.XPUB, zmtp.XSUB, runPubSub},
	{zmtp.REQ, zmtp.REP, runReqRep},
	{zmtp.DEALER, zmtp.ROUTER, runReqRep},
	{zmtp.DEALER, zmtp.REP, runReqRep},
	{zmtp.REQ, zmtp.ROUTER, runReqRep},
}

// TestCurvePairsLibzmq is the interop matrix: every pair, ours as a or b,
// ours as CURVE server or client, a or b binding.
func TestCurvePairsLibzmq(t *testing.T) {
	requireCurve(t)
	server, client := newCurvePair(t), newCurvePair(t)
	for _, sc := range curveScenarios {
		for _, oursIsA := range []bool{true, false} {
			for _, oursServes := range []bool{true, false} {
				for _, aBinds := range []bool{true, false} {
					ia, ib := "ours", "libzmq"
					if !oursIsA {
						ia, ib = ib, ia
					}
					role := "ours-server"
					if !oursServes {
						role = "libzmq-server"
					}
					binder := "a-binds"
					if !aBinds {
						binder = "b-binds"
					}
					t.Run(fmt.Sprintf("%s(%s)-%s(%s)/%s/%s", sc.a, ia, sc.b, ib, role, binder), func(t *testing.T) {
						srvRole := curveRole{server: true, keys: server}
						cliRole := curveRole{keys: client, serverKey: server.pub}
						oursRole, libRole := srvRole, cliRole
						if !oursServes {
							oursRole, libRole = cliRole, srvRole
						}
						var a, b peer
						if oursIsA {
							a = newOursCurve(t, sc.a, "A", oursRole)
							b = newLibzmqCurve(t, sc.b, "B", libRole)
						} else {
							a = newLibzmqCurve(t, sc.a, "A", libRole)
							b = newOursCurve(t, sc.b, "B", oursRole)
						}
						if aBinds {
							b.connect(t, a.bind(t))
						} else {
							a.connect(t, b.bind(t))
						}
						sc.run(t, a, b)
						if o, ok := a.(*oursPeer); ok {
							checkNoAuthFailures(t, o)
						}
						if o, ok := b.(*oursPeer); ok {
							checkNoAuthFailures(t, o)
						}
					})
				}
			}
		}
	}
}

func checkNoAuthFailures(t *testing.T, p *oursPeer) {
	t.Helper()
	if st := p.s.Stats(); st.AuthFailures != 0 || st.Handshakes == 0 {
		t.Errorf("%v: Handshakes %d, AuthFailures %d", p.s.Type(), st.Handshakes, st.AuthFailures)
	}
}

// libzmqMonitor collects a libzmq socket's handshake events.
type libzmqMonitor struct {
	mon *czmq.Socket
}

func monitorLibzmq(t *testing.T, p *libzmqPeer, name string) *libzmqMonitor {
	t.Helper()
	addr := "inproc://monitor-" + name
	p.mu.Lock()
	err := p.s.Monitor(addr, czmq.EVENT_HANDSHAKE_FAILED_AUTH|czmq.EVENT_HANDSHAKE_FAILED_PROTOCOL|czmq.EVENT_HANDSHAKE_SUCCEEDED|czmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
	p.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	mon, err := czmq.NewSocket(czmq.PAIR)
	if err != nil {
		t.Fatal(err)
	}
	_ = mon.SetLinger(0)
	if err := mon.Connect(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	return &libzmqMonitor{mon: mon}
}

// waitEvent returns the first event in want, failing after a timeout.
func (m *libzmqMonitor) waitEvent(t *testing.T, want czmq.Event) (czmq.Event, int) {
	t.Helper()
	_ = m.mon.SetRcvtimeo(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	var seen []string
	for {
		ev, _, value, err := m.mon.RecvEvent(0)
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("libzmq monitor: no %v (saw %v): %v", want, seen, err)
		}
		seen = append(seen, fmt.Sprintf("%v(%d)", ev, value))
		if ev&want != 0 {
			return ev, value
		}
		if ev == czmq.EVENT_HANDSHAKE_SUCCEEDED {
			t.Fatalf("libzmq monitor: handshake succeeded; want %v", want)
		}
	}
}

// waitOurs waits until cond holds for our socket's stats.
func waitOurs(t *testing.T, p *oursPeer, what string, cond func(zmtp.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(p.s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, p.s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCurveWrongServerKeyLibzmq: a client holding a wrong server key is
// refused in both directions and each server counts it.
func TestCurveWrongServerKeyLibzmq(t *testing.T) {
	requireCurve(t)
	server, other, client := newCurvePair(t), newCurvePair(t), newCurvePair(t)

	t.Run("libzmq client, ours server", func(t *testing.T) {
		pull := newOursCurve(t, zmtp.PULL, "", curveRole{server: true, keys: server})
		push := newLibzmqCurve(t, zmtp.PUSH, "", curveRole{keys: client, serverKey: other.pub})
		ep := pull.bind(t)
		push.connect(t, ep)
		waitOurs(t, pull, "AuthFailures", func(s zmtp.Stats) bool { return s.AuthFailures >= 1 })
		if st := pull.s.Stats(); st.Peers != 0 || st.Handshakes != 0 {
			t.Fatalf("a client with a wrong server key connected: %+v", st)
		}
	})
	t.Run("ours client, libzmq server", func(t *testing.T) {
		pull := newLibzmqCurve(t, zmtp.PULL, "", curveRole{server: true, keys: server})
		mon := monitorLibzmq(t, pull, t.Name())
		push := newOursCurve(t, zmtp.PUSH, "", curveRole{keys: client, serverKey: other.pub})
		push.connect(t, pull.bind(t))
		// libzmq cannot open our HELLO: a protocol (cryptographic)
		// failure on its side; the connection closes on ours.
		ev, _ := mon.waitEvent(t, czmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
		t.Logf("libzmq reported %v", ev)
		waitOurs(t, push, "HandshakeFailures", func(s zmtp.Stats) bool { return s.HandshakeFailures >= 1 })
		if st := push.s.Stats(); st.Peers != 0 || st.Handshakes != 0 {
			t.Fatalf("connected to a server with a wrong key: %+v", st)
		}
	})
}

// zapHandler is a minimal ZAP handler (RFC 27) on libzmq's well-known
// endpoint: it allows the CURVE keys in allow and refuses others with 400.
type zapHandler struct {
	stop, done chan struct{}
	refused    chan string
}

func startZAP(t *testing.T, allow ...zmtp.CurvePublicKey) *zapHandler {
	t.Helper()
	rep, err := czmq.NewSocket(czmq.REP)
	if err != nil {
		t.Fatal(err)
	}
	_ = rep.SetLinger(0)
	if err := rep.Bind("inproc://zeromq.zap.01"); err != nil {
		t.Fatal(err)
	}
	z := &zapHandler{stop: make(chan struct{}), done: make(chan struct{}), refused: make(chan string, 16)}
	go func() {
		defer close(z.done)
		defer rep.Close()
		_ = rep.SetRcvtimeo(20 * time.Millisecond)
		for {
			select {
			case <-z.stop:
				return
			default:
			}
			req, err := rep.RecvMessageBytes(0)
			if err != nil {
				continue
			}
			// version, request id, domain, address, identity, mechanism,
			// credentials (the 32-octet client key for CURVE).
			if len(req) < 7 {
				continue
			}
			status, text := "400", "key not allowed"
			if string(req[5]) == "CURVE" && len(req[6]) == zmtp.CurveKeySize {
				key := zmtp.CurvePublicKey(req[6])
				for _, k := range allow {
					if k.Equal(key) {
						status, text = "200", "OK"
					}
				}
				if status != "200" {
					z.refused <- key.String()
				}
			}
			_, _ = rep.SendMessage(req[0], req[1], status, text, "", "")
		}
	}()
	t.Cleanup(func() { close(z.stop); <-z.done })
	return z
}

// TestCurveUnauthorisedClientLibzmq: a client whose key the server does
// not allow is refused with ERROR "400", in both directions, and counted
// on both sides.
func TestCurveUnauthorisedClientLibzmq(t *testing.T) {
	requireCurve(t)
	server, good, bad := newCurvePair(t), newCurvePair(t), newCurvePair(t)

	t.Run("libzmq client, ours server with allow-list", func(t *testing.T) {
		pull := newOursCurve(t, zmtp.PULL, "", curveRole{server: true, keys: server, authorizerSet: true, allow: []zmtp.CurvePublicKey{good.pub}})
		ep := pull.bind(t)
		intruder := newLibzmqCurve(t, zmtp.PUSH, "", curveRole{keys: bad, serverKey: server.pub})
		mon := monitorLibzmq(t, intruder, t.Name())
		intruder.connect(t, ep)
		_, status := mon.waitEvent(t, czmq.EVENT_HANDSHAKE_FAILED_AUTH)
		if status != 400 {
			t.Errorf("libzmq saw status %d; want 400", status)
		}
		waitOurs(t, pull, "AuthFailures", func(s zmtp.Stats) bool { return s.AuthFailures >= 1 })
		// The allowed client still gets through.
		member := newLibzmqCurve(t, zmtp.PUSH, "", curveRole{keys: good, serverKey: server.pub})
		member.connect(t, ep)
		sendRetry(t, member, frames("member")...)
		wantFrames(t, mustRecvFrames(t, pull), "member")
		if st := pull.s.Stats(); st.Peers != 1 {
			t.Fatalf("peers %d; want only the member", st.Peers)
		}
	})
	t.Run("ours client, libzmq server with ZAP", func(t *testing.T) {
		zap := startZAP(t, good.pub)
		pull := newLibzmqCurve(t, zmtp.PULL, "", curveRole{server: true, keys: server, zapDomain: "test"})
		ep := pull.bind(t)
		intruder := newOursCurve(t, zmtp.PUSH, "", curveRole{keys: bad, serverKey: server.pub})
		intruder.connect(t, ep)
		select {
		case k := <-zap.refused:
			if k != bad.pub.String() {
				t.Fatalf("ZAP refused %s; want %s", k, bad.pub)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ZAP handler never asked")
		}
		waitOurs(t, intruder, "AuthFailures", func(s zmtp.Stats) bool { return s.AuthFailures >= 1 })
		member := newOursCurve(t, zmtp.PUSH, "", curveRole{keys: good, serverKey: server.pub})
		member.connect(t, ep)
		sendRetry(t, member, frames("member")...)
		wantFrames(t, mustRecvFrames(t, pull), "member")
		if st := intruder.s.Stats(); st.Peers != 0 || st.Handshakes != 0 {
			t.Fatalf("refused client connected: %+v", st)
		}
	})
}

// TestCurveHeartbeatsLibzmq: PING and PONG travel boxed (inside MESSAGE,
// with the COMMAND flag) both ways: with libzmq pinging every 100 ms
// (timeout 300 ms) and ours too, a CURVE connection stays up through 2 s
// of silence, in both roles, on its first handshake.
func TestCurveHeartbeatsLibzmq(t *testing.T) {
	requireCurve(t)
	server, client := newCurvePair(t), newCurvePair(t)
	for _, oursServes := range []bool{true, false} {
		t.Run(fmt.Sprintf("oursServes=%v", oursServes), func(t *testing.T) {
			srvRole := curveRole{server: true, keys: server}
			cliRole := curveRole{keys: client, serverKey: server.pub}
			oursRole, libRole := srvRole, cliRole
			if !oursServes {
				oursRole, libRole = cliRole, srvRole
			}
			lib := newLibzmqCurve(t, zmtp.PUSH, "", libRole)
			_ = lib.s.SetHeartbeatIvl(100 * time.Millisecond)
			_ = lib.s.SetHeartbeatTimeout(300 * time.Millisecond)
			opts := []zmtp.Option{zmtp.WithLinger(time.Second), zmtp.WithHeartbeat(zmtp.Heartbeat{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond})}
			if oursRole.server {
				opts = append(opts, zmtp.WithCurveServer(oursRole.keys.sec))
			} else {
				opts = append(opts, zmtp.WithCurveClient(oursRole.serverKey, oursRole.keys.pub, oursRole.keys.sec))
			}
			s, err := zmtp.NewSocket(zmtp.PULL, opts...)
			if err != nil {
				t.Fatal(err)
			}
			ours := &oursPeer{s}
			t.Cleanup(ours.close)
			lib.connect(t, ours.bind(t))
			sendRetry(t, lib, frames("first")...)
			wantFrames(t, mustRecvFrames(t, ours), "first")
			time.Sleep(2 * time.Second)
			sendRetry(t, lib, frames("after silence")...)
			wantFrames(t, mustRecvFrames(t, ours), "after silence")
			if st := s.Stats(); st.Handshakes != 1 {
				t.Fatalf("%d handshakes; want the one connection to have survived the heartbeats", st.Handshakes)
			}
		})
	}
}
