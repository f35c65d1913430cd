package zmtp

import (
	"context"
	"errors"
	"testing"
	"time"
)

// recvOne waits up to d for a message on s.
func recvOne(s *Socket, d time.Duration) (Msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Recv(ctx)
}

// routerSees waits for a message from a peer and checks its routing id.
func routerSees(t *testing.T, ctx context.Context, router *Socket, id, body string) {
	t.Helper()
	m := mustRecv(t, ctx, router)
	if len(m) != 2 || string(m[0]) != id || string(m[1]) != body {
		t.Fatalf("ROUTER received %q, want [%q %q]", m, id, body)
	}
}

// TestRouterIdentityReuse: DEALER A holds identity w1; DEALER B presents
// w1 too and is refused while A is connected (libzmq's default); once A
// has gone, B's reconnect gets w1 and [w1, x] reaches B.
func TestRouterIdentityReuse(t *testing.T) {
	ctx := testCtx(t)
	router := newSock(t, ROUTER)
	ep := bind(t, router)
	a := newSock(t, DEALER, WithIdentity([]byte("w1")))
	connect(t, a, ep)
	_ = a.Send(ctx, NewMsgString("from a"))
	routerSees(t, ctx, router, "w1", "from a")

	const ivl = 20 * time.Millisecond
	b := newSock(t, DEALER, WithIdentity([]byte("w1")), WithReconnectInterval(ivl, ivl))
	connect(t, b, ep)
	for router.Stats().Handshakes < 2 { // A, then B
		if ctx.Err() != nil {
			t.Fatal("B never connected")
		}
		time.Sleep(time.Millisecond)
	}
	// A still holds w1.
	_ = router.Send(ctx, Msg{[]byte("w1"), []byte("for a")})
	if m := mustRecv(t, ctx, a); string(m[0]) != "for a" {
		t.Fatalf("A got %q", m)
	}

	a.Close()
	start := time.Now()
	for {
		_ = router.Send(ctx, Msg{[]byte("w1"), []byte("x")})
		if m, err := recvOne(b, ivl); err == nil {
			if string(m[0]) != "x" {
				t.Fatalf("B got %q", m)
			}
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("[w1, x] never reached B (%d sends dropped)", router.Stats().Drops)
		}
	}
	t.Logf("B got w1 %v after A closed (reconnect interval %v)", time.Since(start), ivl)
	_ = b.Send(ctx, NewMsgString("from b"))
	routerSees(t, ctx, router, "w1", "from b")
}

// TestRouterHandover: with WithRouterHandover the newcomer B takes w1 at
// once while A is still connected: [w1, x] reaches B, not A, and the
// ROUTER closes A's connection.
func TestRouterHandover(t *testing.T) {
	ctx := testCtx(t)
	router := newSock(t, ROUTER, WithRouterHandover())
	ep := bind(t, router)
	// A must not reconnect and take w1 back during the test.
	a := newSock(t, DEALER, WithIdentity([]byte("w1")), WithReconnectInterval(time.Minute, time.Minute))
	connect(t, a, ep)
	_ = a.Send(ctx, NewMsgString("from a"))
	routerSees(t, ctx, router, "w1", "from a")

	b := newSock(t, DEALER, WithIdentity([]byte("w1")))
	connect(t, b, ep)
	_ = b.Send(ctx, NewMsgString("from b"))
	routerSees(t, ctx, router, "w1", "from b")
	if err := router.Send(ctx, Msg{[]byte("w1"), []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if m := mustRecv(t, ctx, b); string(m[0]) != "x" {
		t.Fatalf("B got %q", m)
	}
	if m, err := recvOne(a, 100*time.Millisecond); err == nil {
		t.Fatalf("A got %q after handing w1 over", m)
	}
	for a.Stats().Peers != 0 {
		if ctx.Err() != nil {
			t.Fatal("the ROUTER never closed the previous holder's connection")
		}
		time.Sleep(time.Millisecond)
	}
	if p := router.Stats().Peers; p != 1 {
		t.Fatalf("ROUTER has %d peers, want 1", p)
	}
}

// TestRouterMandatory: with WithRouterMandatory a send to an unknown id is
// ErrHostUnreachable, and a send to a peer at its HWM blocks (honouring
// ctx) instead of dropping, until the peer reads or leaves.
func TestRouterMandatory(t *testing.T) {
	ctx := testCtx(t)
	router := newSock(t, ROUTER, WithRouterMandatory(), WithSendHWM(1))
	ep := bind(t, router)
	if err := router.Send(ctx, NewMsgString("nobody", "x")); !errors.Is(err, ErrHostUnreachable) {
		t.Fatalf("send to an unknown id: %v, want ErrHostUnreachable", err)
	}

	slow := newSock(t, DEALER, WithIdentity([]byte("slow")), WithRecvHWM(1))
	connect(t, slow, ep)
	_ = slow.Send(ctx, NewMsgString("hi"))
	routerSees(t, ctx, router, "slow", "hi")

	// fill sends 1 MiB messages until the kernel's buffers and the queue
	// are full and a Send gives up at its deadline.
	payload := make([]byte, 1<<20)
	fill := func() int {
		t.Helper()
		for i := 0; ; i++ {
			sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := router.Send(sctx, Msg{[]byte("slow"), payload})
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				return i
			}
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			if i > 500 {
				t.Fatal("Send never blocked at the HWM")
			}
		}
	}
	sent := fill()
	if d := router.Stats().Drops; d != 0 {
		t.Fatalf("Drops = %d, want 0", d)
	}
	t.Logf("Send blocked after %d x 1 MiB", sent)

	// A blocked Send completes once the peer reads.
	done := make(chan error, 1)
	go func() { done <- router.Send(ctx, NewMsgString("slow", "last")) }()
	select {
	case err := <-done:
		t.Fatalf("Send to a full peer returned %v, want it to block", err)
	case <-time.After(100 * time.Millisecond):
	}
	for n := 0; ; n++ {
		m := mustRecv(t, ctx, slow)
		if string(m[0]) == "last" {
			if n != sent {
				t.Fatalf("peer read %d payloads before the last message, want %d", n, sent)
			}
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("blocked Send: %v", err)
	}

	// A blocked Send to a peer that leaves is ErrHostUnreachable.
	fill()
	go func() { done <- router.Send(ctx, NewMsgString("slow", "lost")) }()
	time.Sleep(50 * time.Millisecond)
	slow.Close()
	if err := <-done; !errors.Is(err, ErrHostUnreachable) {
		t.Fatalf("Send blocked on a peer that left: %v, want ErrHostUnreachable", err)
	}
}
