package zmtp

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestReconnect: a connecting socket started before its peer binds, and
// again after the peer restarts on the same port, gets through both times.
func TestReconnect(t *testing.T) {
	ctx := testCtx(t)
	probe := newSock(t, PULL)
	ep := bind(t, probe)
	probe.Close() // free the port; Connect must wait for it

	push := newSock(t, PUSH, WithReconnectInterval(5*time.Millisecond, 50*time.Millisecond))
	connect(t, push, ep)
	for round := 0; round < 2; round++ {
		pull := newSock(t, PULL)
		if _, err := pull.Bind(ep); err != nil {
			t.Fatal(err)
		}
		if err := push.Send(ctx, NewMsgString(fmt.Sprint("round", round))); err != nil {
			t.Fatal(err)
		}
		if m := mustRecv(t, ctx, pull); string(m[0]) != fmt.Sprint("round", round) {
			t.Fatalf("got %q", m)
		}
		pull.Close()
		for push.Stats().Peers != 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if hs := push.Stats().Handshakes; hs != 2 {
		t.Fatalf("%d handshakes, want 2", hs)
	}
}

// TestLingerFlushesOnClose: messages queued before Close are delivered.
func TestLingerFlushesOnClose(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, PULL)
	push := newSock(t, PUSH, WithLinger(5*time.Second))
	connect(t, push, bind(t, pull))
	const n = 5000
	payload := make([]byte, 512)
	for i := 0; i < n; i++ {
		if err := push.Send(ctx, Msg{payload}); err != nil {
			t.Fatal(err)
		}
	}
	push.Close()
	for i := 0; i < n; i++ {
		mustRecv(t, ctx, pull)
	}
	if st := push.Stats(); st.MsgsOut != n || st.BytesOut != n*512 {
		t.Fatalf("stats %+v", st)
	}
}

// TestIPCAndSeveralEndpoints: one PULL binds tcp and ipc and also
// connects; messages from all three PUSH peers arrive.
func TestIPCAndSeveralEndpoints(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, PULL)
	tcpEP := bind(t, pull)
	ipcEP, err := pull.Bind("ipc://" + filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	third := newSock(t, PUSH)
	thirdEP := bind(t, third)
	connect(t, pull, thirdEP)

	a := newSock(t, PUSH)
	connect(t, a, tcpEP)
	b := newSock(t, PUSH)
	connect(t, b, ipcEP)
	for _, s := range []*Socket{a, b, third} {
		if err := s.Send(ctx, NewMsgString(s.Type().String())); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		mustRecv(t, ctx, pull)
	}
	if p := pull.Stats().Peers; p != 3 {
		t.Fatalf("%d peers, want 3", p)
	}
}

// TestRouterRouting: ROUTER routes by identity (given or generated) and
// drops, counting, what it cannot route.
func TestRouterRouting(t *testing.T) {
	ctx := testCtx(t)
	router := newSock(t, ROUTER)
	ep := bind(t, router)
	named := newSock(t, DEALER, WithIdentity([]byte("alice")))
	anon := newSock(t, DEALER)
	connect(t, named, ep)
	connect(t, anon, ep)
	_ = named.Send(ctx, NewMsgString("from alice"))
	_ = anon.Send(ctx, NewMsgString("from anon"))
	ids := map[string][]byte{}
	for i := 0; i < 2; i++ {
		m := mustRecv(t, ctx, router)
		ids[string(m[1])] = m[0]
	}
	if string(ids["from alice"]) != "alice" {
		t.Fatalf("alice's id %q", ids["from alice"])
	}
	if id := ids["from anon"]; len(id) != 5 || id[0] != 0 {
		t.Fatalf("generated id %q, want 5 octets starting with 0", id)
	}
	_ = router.Send(ctx, Msg{ids["from anon"], []byte("to anon")})
	_ = router.Send(ctx, Msg{[]byte("alice"), []byte("to alice")})
	_ = router.Send(ctx, Msg{[]byte("nobody"), []byte("lost")})
	if m := mustRecv(t, ctx, anon); string(m[0]) != "to anon" {
		t.Fatalf("anon got %q", m)
	}
	if m := mustRecv(t, ctx, named); string(m[0]) != "to alice" {
		t.Fatalf("alice got %q", m)
	}
	if d := router.Stats().Drops; d != 1 {
		t.Fatalf("drops %d, want 1", d)
	}
}

// TestPairRefusesSecondPeer: PAIR is exclusive.
func TestPairRefusesSecondPeer(t *testing.T) {
	ctx := testCtx(t)
	a := newSock(t, PAIR)
	ep := bind(t, a)
	b := newSock(t, PAIR)
	connect(t, b, ep)
	waitPeers(t, a, 1)
	c := newSock(t, PAIR)
	connect(t, c, ep)
	for c.Stats().Handshakes == 0 {
		time.Sleep(time.Millisecond)
	}
	if p := a.Stats().Peers; p != 1 {
		t.Fatalf("PAIR has %d peers", p)
	}
	_ = b.Send(ctx, NewMsgString("ping"))
	mustRecv(t, ctx, a)
	_ = a.Send(ctx, NewMsgString("pong"))
	mustRecv(t, ctx, b)
}

// TestStreamerProxy: PULL -> Proxy -> PUSH, and the proxy ends cleanly
// when its context does.
func TestStreamerProxy(t *testing.T) {
	ctx := testCtx(t)
	in := newSock(t, PULL)
	out := newSock(t, PUSH)
	inEP, outEP := bind(t, in), bind(t, out)
	src := newSock(t, PUSH)
	dst := newSock(t, PULL)
	connect(t, src, inEP)
	connect(t, dst, outEP)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Proxy(pctx, in, out) }()
	for i := 0; i < 100; i++ {
		_ = src.Send(ctx, NewMsgString("x", fmt.Sprint(i)))
	}
	for i := 0; i < 100; i++ {
		if m := mustRecv(t, ctx, dst); string(m[1]) != fmt.Sprint(i) {
			t.Fatalf("got %q want %d", m, i)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A closed socket ends the proxy with ErrClosed, never a panic.
	go func() { done <- Proxy(ctx, in, out) }()
	in.Close()
	if err := <-done; err != ErrClosed {
		t.Fatalf("proxy after close: %v", err)
	}
}
