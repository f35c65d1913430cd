package zmtp

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// switchingDialer plays a ClusterIP Service during a rollout: connections
// go to the old replica until it stops listening, then to the new one.
type switchingDialer struct {
	old, new string
	moved    atomic.Bool
}

func (d *switchingDialer) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	if !d.moved.Load() {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, d.old)
		if err == nil {
			return nc, nil
		}
		d.moved.Store(true)
	}
	return (&net.Dialer{}).DialContext(ctx, network, d.new)
}

func hostPort(ep string) string { return strings.TrimPrefix(ep, "tcp://") }

// receiveAll takes numbered messages from s until Recv fails, counting
// each number, pausing after each for delay.
func receiveAll(ctx context.Context, s *Socket, seen map[uint64]int, mu *sync.Mutex, delay time.Duration) error {
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return err
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		mu.Lock()
		seen[binary.BigEndian.Uint64(m[0])]++
		mu.Unlock()
	}
}

// TestDrainMovesAStreamWithoutLoss: a PUSH streams numbered 32 KiB
// messages through a "Service" to a slow PULL, which drains mid-stream
// while a replacement listens. The sender's writer is then blocked in the
// middle of a message (the kernel buffers are full). Every message arrives
// exactly once: what the old PULL had been sent it reads until the sender
// closes, the sender's writer finishes the message it had started, and
// what it still queued goes to the replacement after the reconnection.
func TestDrainMovesAStreamWithoutLoss(t *testing.T) {
	const total = 3000
	ctx := testCtx(t)
	old := newSock(t, PULL, WithRecvHWM(100))
	repl := newSock(t, PULL, WithRecvHWM(100))
	d := &switchingDialer{old: hostPort(bind(t, old)), new: hostPort(bind(t, repl))}
	push := newSock(t, PUSH, WithDialer(d), WithSendHWM(100), WithReconnectInterval(10*time.Millisecond, 50*time.Millisecond))
	connect(t, push, "tcp://service:1")
	waitPeers(t, old, 1)

	var mu sync.Mutex
	seen := map[uint64]int{}
	oldDone := make(chan error, 1)
	go func() { oldDone <- receiveAll(ctx, old, seen, &mu, 200*time.Microsecond) }()
	replCtx, stopRepl := context.WithCancel(ctx)
	defer stopRepl()
	replDone := make(chan error, 1)
	go func() { replDone <- receiveAll(replCtx, repl, seen, &mu, 0) }()

	sent := make(chan error, 1)
	go func() {
		for i := uint64(0); i < total; i++ {
			b := make([]byte, 32<<10)
			binary.BigEndian.PutUint64(b, i)
			if err := push.Send(ctx, Msg{b}); err != nil {
				sent <- err
				return
			}
			if i == total/3 {
				go func() {
					dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					defer cancel()
					if err := old.Drain(dctx); err != nil {
						t.Errorf("Drain: %v", err)
					}
				}()
			}
		}
		sent <- nil
	}()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := <-oldDone; !errors.Is(err, ErrDrained) {
		t.Fatalf("old Recv ended with %v; want ErrDrained", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == total || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopRepl()
	<-replDone
	mu.Lock()
	defer mu.Unlock()
	var missing, dup int
	for i := uint64(0); i < total; i++ {
		switch seen[i] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing != 0 || dup != 0 || !d.moved.Load() {
		t.Fatalf("%d of %d missing, %d duplicated (moved to the replacement: %v)", missing, total, dup, d.moved.Load())
	}
	if s := push.Stats(); s.Requeued == 0 {
		t.Logf("nothing was requeued (the old PULL took the whole queue)")
	}
}

// TestDrainWritesQueuedThenHalfCloses: a draining PUSH writes what it has
// queued for its peer before shutting its sending side, and the peer's
// reconnection is refused (no new work).
func TestDrainWritesQueuedThenHalfCloses(t *testing.T) {
	ctx := testCtx(t)
	push := newSock(t, PUSH)
	ep := bind(t, push)
	pull := newSock(t, PULL, WithReconnectInterval(10*time.Millisecond, 20*time.Millisecond))
	connect(t, pull, ep)
	waitPeers(t, push, 1)
	for i := 0; i < 500; i++ {
		if err := push.Send(ctx, NewMsgString("m")); err != nil {
			t.Fatal(err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := push.Drain(dctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	for i := 0; i < 500; i++ {
		mustRecv(t, ctx, pull)
	}
	time.Sleep(100 * time.Millisecond) // reconnection attempts
	if n := len(push.Peers()); n != 0 {
		t.Fatalf("a drained socket has %d peers; want 0", n)
	}
	if _, err := push.Recv(ctx); !errors.Is(err, ErrNotSupported) {
		t.Logf("Recv on PUSH: %v", err)
	}
}

// TestHalfClosePeerRouter: a ROUTER drains one peer and keeps the other.
func TestHalfClosePeerRouter(t *testing.T) {
	ctx := testCtx(t)
	router := newSock(t, ROUTER)
	ep := bind(t, router)
	a := newSock(t, DEALER, WithIdentity([]byte("a")))
	b := newSock(t, DEALER, WithIdentity([]byte("b")))
	connect(t, a, ep)
	connect(t, b, ep)
	waitPeers(t, router, 2)
	if err := router.Send(ctx, Msg{[]byte("a"), []byte("last")}); err != nil {
		t.Fatal(err)
	}
	if router.PeerClosing([]byte("a")) {
		t.Fatal("PeerClosing(a) before the half-close")
	}
	if !router.HalfClosePeer([]byte("a")) {
		t.Fatal("HalfClosePeer(a) = false")
	}
	if !router.PeerClosing([]byte("a")) || router.PeerClosing([]byte("b")) {
		t.Fatal("PeerClosing: want true for a, false for b")
	}
	if got := mustRecv(t, ctx, a); string(got[0]) != "last" {
		t.Fatalf("a got %q; want the reply queued before the half-close", got)
	}
	for deadline := time.Now().Add(5 * time.Second); len(router.Peers()) != 1; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("router has %d peers; want 1 after the half-close", len(router.Peers()))
		}
	}
	if err := router.Send(ctx, Msg{[]byte("b"), []byte("still")}); err != nil {
		t.Fatal(err)
	}
	if got := mustRecv(t, ctx, b); string(got[0]) != "still" {
		t.Fatalf("b got %q", got)
	}
}

// TestDrainTakesAHandshakeUnderWay: a peer whose handshake is under way
// when the drain begins may send messages right after it; the draining
// socket attaches it, reads them, and half-closes it (before, the
// handshake was aborted and what the peer's kernel had accepted was lost).
func TestDrainTakesAHandshakeUnderWay(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, PULL)
	ep := bind(t, pull)
	nc, err := net.Dial("tcp", hostPort(ep))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The accept loop has the connection; its handshake waits for us.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		pull.mu.Lock()
		pending := pull.pending
		pull.mu.Unlock()
		if pending == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no handshake under way")
		}
	}
	drained := make(chan error, 1)
	go func() { drained <- pull.Drain(ctx) }()
	time.Sleep(50 * time.Millisecond) // the drain has begun

	c, err := handshake(nc, PUSH, nil, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	for i := 0; i < 100; i++ {
		if err := writeMsg(c.bw, NewMsgString("late")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.bw.Flush(); err != nil {
		t.Fatal(err)
	}
	// The draining side half-closes: we read end of stream, then close.
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.fr.readFrame(-1); err == nil {
		t.Fatal("read a frame from a draining PULL; want end of stream")
	}
	nc.Close()
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	for i := 0; i < 100; i++ {
		mustRecv(t, ctx, pull)
	}
	if _, err := pull.Recv(ctx); !errors.Is(err, ErrDrained) {
		t.Fatalf("Recv after the last message = %v; want ErrDrained", err)
	}
}
