package zmtp

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestProbeCurve probes a CURVE server of every type with the probe's own
// key in the server's allow-list: types with a silent partner report
// their Socket-Type from the encrypted READY (and a PING RTT), the others
// stop after WELCOME and are never attached as a pipe.
func TestProbeCurve(t *testing.T) {
	srv, prober := newCurveKeys(t), newCurveKeys(t)
	creds := &ProbeCurve{Server: srv.pub, Public: prober.pub, Secret: prober.sec}
	for _, typ := range []SocketType{PUB, SUB, XPUB, XSUB, PUSH, PULL, REQ, REP, DEALER, ROUTER, PAIR} {
		t.Run(typ.String(), func(t *testing.T) {
			s := newSock(t, typ, curveServerOpt(srv), WithCurveAuthorizer(CurveAllowList(prober.pub)))
			ep := bind(t, s)
			_, silent := SilentPeer(typ)
			for _, mode := range []ProbeMode{ProbeReady, ProbePing} {
				res, err := Probe(testCtx(t), ep, ProbeOptions{Mode: mode, Curve: creds, Expect: typ})
				if err != nil {
					t.Fatal(err)
				}
				if !res.ServerAuthenticated || res.Mechanism != MechanismCurve {
					t.Fatalf("got %+v", res)
				}
				if res.SentReady != silent {
					t.Fatalf("SentReady=%v, want %v", res.SentReady, silent)
				}
				want := SocketType(0)
				if silent {
					want = typ
				}
				if res.SocketType != want {
					t.Fatalf("SocketType %v, want %v", res.SocketType, want)
				}
				if (res.PingRTT > 0) != (silent && mode == ProbePing) {
					t.Fatalf("mode %v: PingRTT=%v", mode, res.PingRTT)
				}
			}
			waitStat(t, func() bool { return s.Stats().Peers == 0 })
			if st := s.Stats(); st.AuthFailures != 0 {
				t.Fatalf("server stats after probes: %+v", st)
			}
			if !silent {
				if st := s.Stats(); st.Handshakes != 0 {
					t.Fatalf("a %v server completed %d handshakes with the probe", typ, st.Handshakes)
				}
			}
		})
	}
}

// TestProbeCurveWithoutExpectStopsAtWelcome: with no expected type the
// probe never sends INITIATE.
func TestProbeCurveWithoutExpectStopsAtWelcome(t *testing.T) {
	srv, prober := newCurveKeys(t), newCurveKeys(t)
	s := newSock(t, PUB, curveServerOpt(srv))
	ep := bind(t, s)
	res, err := Probe(testCtx(t), ep, ProbeOptions{Mode: ProbePing, Curve: &ProbeCurve{Server: srv.pub, Public: prober.pub, Secret: prober.sec}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ServerAuthenticated || res.SentReady || res.SocketType != 0 {
		t.Fatalf("got %+v", res)
	}
	if st := s.Stats(); st.Handshakes != 0 {
		t.Fatalf("handshakes %d", st.Handshakes)
	}
}

// TestProbeCurveRefusals: a server without the expected key, a probe key
// outside the allow-list, mismatched credentials and a NULL peer all fail.
func TestProbeCurveRefusals(t *testing.T) {
	srv, other, prober, stranger := newCurveKeys(t), newCurveKeys(t), newCurveKeys(t), newCurveKeys(t)
	s := newSock(t, PUB, curveServerOpt(srv), WithCurveAuthorizer(CurveAllowList(prober.pub)))
	ep := bind(t, s)
	null := newSock(t, PUB)
	nullEP := bind(t, null)
	cases := []struct {
		name   string
		ep     string
		creds  ProbeCurve
		isAuth bool
	}{
		// The server cannot open HELLO and closes without a word.
		{"wrong server key", ep, ProbeCurve{Server: other.pub, Public: prober.pub, Secret: prober.sec}, false},
		{"client key not allowed", ep, ProbeCurve{Server: srv.pub, Public: stranger.pub, Secret: stranger.sec}, true},
		{"public not of secret", ep, ProbeCurve{Server: srv.pub, Public: prober.pub, Secret: stranger.sec}, false},
		{"NULL peer", nullEP, ProbeCurve{Server: srv.pub, Public: prober.pub, Secret: prober.sec}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			creds := c.creds
			res, err := Probe(testCtx(t), c.ep, ProbeOptions{Curve: &creds, Expect: PUB, Timeout: 2 * time.Second})
			if err == nil {
				t.Fatalf("probe succeeded: %+v", res)
			}
			var pe *ProbeError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v", err, err)
			}
			if c.isAuth && !errors.Is(err, ErrAuth) && !errors.Is(err, ErrPeerError) {
				t.Fatalf("want an authentication failure, got %v", err)
			}
			if res.SocketType != 0 || (c.name != "client key not allowed" && res.ServerAuthenticated) {
				t.Fatalf("learned a socket type from a refused handshake: %+v", res)
			}
		})
	}
	// The wrong-server-key HELLO and the refused client key.
	waitStat(t, func() bool { return s.Stats().AuthFailures >= 2 })
}

// TestProbeCurveBoundPushLosesNothing probes a CURVE PUSH server with a
// real worker attached, many times while it sends: every message reaches
// the worker (the probe never becomes a pipe).
func TestProbeCurveBoundPushLosesNothing(t *testing.T) {
	srv, worker, prober := newCurveKeys(t), newCurveKeys(t), newCurveKeys(t)
	push := newSock(t, PUSH, curveServerOpt(srv), WithCurveAuthorizer(CurveAllowList(worker.pub, prober.pub)))
	ep := bind(t, push)
	pull := newSock(t, PULL, curveClientOpt(srv.pub, worker))
	connect(t, pull, ep)
	waitPeers(t, push, 1)
	ctx := testCtx(t)
	const n = 2000
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := push.Send(ctx, NewMsgString(fmt.Sprint(i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	creds := &ProbeCurve{Server: srv.pub, Public: prober.pub, Secret: prober.sec}
	probes := 0
	for got := 0; got < n; got++ {
		if got%20 == 0 {
			if _, err := Probe(ctx, ep, ProbeOptions{Mode: ProbePing, Curve: creds, Expect: PUSH}); err != nil {
				t.Fatal(err)
			}
			probes++
		}
		m := mustRecv(t, ctx, pull)
		if string(m[0]) != fmt.Sprint(got) {
			t.Fatalf("message %d: got %q (lost or reordered)", got, m[0])
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if probes == 0 || push.Stats().Handshakes != 1 {
		t.Fatalf("probes %d, server handshakes %d (want only the worker's)", probes, push.Stats().Handshakes)
	}
}
