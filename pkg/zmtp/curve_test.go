package zmtp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// curveKeys is one long-term key pair for tests.
type curveKeys struct {
	pub CurvePublicKey
	sec CurveSecretKey
}

func newCurveKeys(t testing.TB) curveKeys {
	t.Helper()
	pub, sec, err := GenerateCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return curveKeys{pub, sec}
}

func curveServerOpt(k curveKeys) Option { return WithCurveServer(k.sec) }

func curveClientOpt(server CurvePublicKey, k curveKeys) Option {
	return WithCurveClient(server, k.pub, k.sec)
}

// TestCurvePairs runs every socket pair over CURVE, with the server on
// the binding side and on the connecting side.
func TestCurvePairs(t *testing.T) {
	srv, cli := newCurveKeys(t), newCurveKeys(t)
	pairs := []struct{ a, b SocketType }{
		{PUSH, PULL}, {PUB, SUB}, {REQ, REP}, {DEALER, ROUTER}, {PAIR, PAIR}, {XPUB, XSUB},
	}
	for _, p := range pairs {
		for _, serverBinds := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v-%v/serverBinds=%v", p.a, p.b, serverBinds), func(t *testing.T) {
				ctx := testCtx(t)
				// b binds; a connects.
				bOpt, aOpt := curveServerOpt(srv), curveClientOpt(srv.pub, cli)
				if !serverBinds {
					bOpt, aOpt = aOpt, bOpt
				}
				// PINGs every 20 ms, boxed; a peer that did not answer
				// them would be dropped after 1 s.
				hb := WithHeartbeat(Heartbeat{Interval: 20 * time.Millisecond, Timeout: time.Second})
				b := newSock(t, p.b, bOpt, hb)
				a := newSock(t, p.a, aOpt, hb)
				ep := bind(t, b)
				connect(t, a, ep)
				waitPeers(t, a, 1)
				waitPeers(t, b, 1)
				exerciseCurvePair(t, ctx, a, b)
				// Heartbeats are boxed commands too: the connection must
				// survive many, on its first handshake.
				time.Sleep(1500 * time.Millisecond)
				exerciseCurvePair(t, ctx, a, b)
				if ha, hb := a.Stats().Handshakes, b.Stats().Handshakes; ha != 1 || hb != 1 {
					t.Fatalf("handshakes %d and %d; want the first connection to survive", ha, hb)
				}
			})
		}
	}
}

// exerciseCurvePair sends multipart and large messages from a to b (and a
// reply for request/reply pairs).
func exerciseCurvePair(t *testing.T, ctx context.Context, a, b *Socket) {
	t.Helper()
	big := strings.Repeat("x", 300<<10)
	switch a.Type() {
	case PUB, XPUB:
		if err := b.Subscribe(nil); err != nil {
			t.Fatal(err)
		}
		// Subscriptions travel boxed; publish until one arrives.
		got := make(chan Msg, 1)
		go func() {
			m, err := b.Recv(ctx)
			if err == nil {
				got <- m
			}
		}()
		for {
			_ = a.Send(ctx, NewMsgString("topic", big))
			select {
			case m := <-got:
				if len(m) != 2 || string(m[1]) != big {
					t.Fatalf("got %d frames", len(m))
				}
				return
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				t.Fatal("no message over CURVE PUB/SUB")
			}
		}
	}
	if err := a.Send(ctx, NewMsgString("hello", "", big)); err != nil {
		t.Fatal(err)
	}
	m := mustRecv(t, ctx, b)
	if b.Type() == ROUTER {
		m = m[1:]
	}
	if len(m) != 3 || string(m[0]) != "hello" || len(m[1]) != 0 || string(m[2]) != big {
		t.Fatalf("got %d frames", len(m))
	}
	if a.Type() == REQ || a.Type() == PAIR {
		if err := b.Send(ctx, NewMsgString("world")); err != nil {
			t.Fatal(err)
		}
		if r := mustRecv(t, ctx, a); string(r[0]) != "world" {
			t.Fatalf("reply %q", r[0])
		}
	}
}

// TestCurveAuthorizer: a client in the allow-list connects; another is
// refused with ERROR and counted on both sides.
func TestCurveAuthorizer(t *testing.T) {
	srv, good, bad := newCurveKeys(t), newCurveKeys(t), newCurveKeys(t)
	ctx := testCtx(t)
	pull := newSock(t, PULL, WithCurveServer(srv.sec), WithCurveAuthorizer(CurveAllowList(good.pub)))
	ep := bind(t, pull)

	intruder := newSock(t, PUSH, curveClientOpt(srv.pub, bad))
	connect(t, intruder, ep)
	waitStat(t, func() bool { return pull.Stats().AuthFailures >= 1 && intruder.Stats().AuthFailures >= 1 })
	if intruder.Stats().Peers != 0 {
		t.Fatal("refused client has a peer")
	}

	push := newSock(t, PUSH, curveClientOpt(srv.pub, good))
	connect(t, push, ep)
	if err := push.Send(ctx, NewMsgString("ok")); err != nil {
		t.Fatal(err)
	}
	if m := mustRecv(t, ctx, pull); string(m[0]) != "ok" {
		t.Fatalf("got %q", m[0])
	}
}

// TestCurveWrongServerKey: a client that expects another server key never
// gets a WELCOME; the server counts the failure, nothing is delivered.
func TestCurveWrongServerKey(t *testing.T) {
	srv, other, cli := newCurveKeys(t), newCurveKeys(t), newCurveKeys(t)
	pull := newSock(t, PULL, WithCurveServer(srv.sec))
	ep := bind(t, pull)
	push := newSock(t, PUSH, curveClientOpt(other.pub, cli))
	connect(t, push, ep)
	waitStat(t, func() bool { return pull.Stats().AuthFailures >= 1 && push.Stats().HandshakeFailures >= 1 })
	if pull.Stats().Peers != 0 || push.Stats().Peers != 0 {
		t.Fatal("connected with a wrong server key")
	}
}

// TestCurveServerImpostor: a server that does not hold the secret key of
// the public key the client trusts cannot complete the handshake; the
// client counts an authentication failure.
func TestCurveServerImpostor(t *testing.T) {
	real, impostor, cli := newCurveKeys(t), newCurveKeys(t), newCurveKeys(t)
	// The impostor answers HELLOs boxed to its own key only, so the
	// client (trusting real) fails at HELLO on the impostor's side.
	pull := newSock(t, PULL, WithCurveServer(impostor.sec))
	ep := bind(t, pull)
	push := newSock(t, PUSH, curveClientOpt(real.pub, cli))
	connect(t, push, ep)
	waitStat(t, func() bool { return pull.Stats().AuthFailures >= 1 })
	if push.Stats().Peers != 0 {
		t.Fatal("client accepted an impostor")
	}
}

// TestCurveMechanismMismatch: NULL and CURVE peers never connect.
func TestCurveMechanismMismatch(t *testing.T) {
	srv, cli := newCurveKeys(t), newCurveKeys(t)
	for _, tc := range []struct {
		name       string
		bOpt, aOpt []Option
	}{
		{"CURVE server, NULL client", []Option{WithCurveServer(srv.sec)}, nil},
		{"NULL server, CURVE client", nil, []Option{curveClientOpt(srv.pub, cli)}},
		{"two CURVE servers", []Option{WithCurveServer(srv.sec)}, []Option{WithCurveServer(cli.sec)}},
		{"two CURVE clients", []Option{curveClientOpt(srv.pub, cli)}, []Option{curveClientOpt(srv.pub, cli)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newSock(t, PULL, tc.bOpt...)
			a := newSock(t, PUSH, tc.aOpt...)
			connect(t, a, bind(t, b))
			waitStat(t, func() bool { return b.Stats().HandshakeFailures >= 1 && a.Stats().HandshakeFailures >= 1 })
			if b.Stats().Peers != 0 {
				t.Fatal("connected across mechanisms")
			}
		})
	}
}

func TestCurveOptionErrors(t *testing.T) {
	a, b := newCurveKeys(t), newCurveKeys(t)
	if _, err := NewSocket(PUSH, WithCurveClient(a.pub, a.pub, b.sec)); err == nil {
		t.Fatal("mismatched client key pair accepted")
	}
	if _, err := NewSocket(PUSH, WithCurveAuthorizer(CurveAllowList())); err == nil {
		t.Fatal("authoriser without a server role accepted")
	}
}

func TestCurveSecretKeyNeverPrints(t *testing.T) {
	k := newCurveKeys(t)
	for _, s := range []string{fmt.Sprint(k.sec), fmt.Sprintf("%v %+v %#v %s", k.sec, k.sec, k.sec, k.sec), fmt.Sprintf("%v %+v", struct{ Key CurveSecretKey }{k.sec}, &struct{ Key CurveSecretKey }{k.sec})} {
		if strings.Contains(s, k.sec.Z85()) || strings.Contains(s, fmt.Sprint([32]byte(k.sec))) {
			t.Fatalf("secret key printed: %s", s)
		}
	}
	if got, _ := ParseCurveSecretKey(k.sec.Z85()); got != k.sec {
		t.Fatal("Z85 round trip")
	}
	if _, err := ParseCurveSecretKey("short"); err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("bad error %v", err)
	}
	if !errors.Is(func() error { _, err := Z85Decode("\x00\x00\x00\x00\x00"); return err }(), ErrZ85) {
		t.Fatal("Z85 garbage accepted")
	}
}

// waitStat waits for cond, bounded.
func waitStat(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
