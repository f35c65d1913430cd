package zmtp

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// recvNone checks that s has nothing to receive within d.
func recvNone(t *testing.T, s *Socket, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, err := s.Recv(ctx); err == nil {
		t.Fatalf("%v received %q; want nothing", s.Type(), m)
	}
}

// A PUSH connected to two PULLs disconnects one: every later message goes
// to the other, and the first is never dialled again.
func TestDisconnectKeepsOtherPeers(t *testing.T) {
	ctx := testCtx(t)
	a, b := newSock(t, PULL), newSock(t, PULL)
	epA, epB := bind(t, a), bind(t, b)
	push := newSock(t, PUSH, WithReconnectInterval(10*time.Millisecond, 10*time.Millisecond))
	connect(t, push, epA)
	connect(t, push, epB)
	waitPeers(t, push, 2)
	if got := push.ConnectedEndpoints(); !reflect.DeepEqual(got, sortedPair(epA, epB)) {
		t.Fatalf("ConnectedEndpoints() = %q", got)
	}

	if err := push.Disconnect(epA); err != nil {
		t.Fatal(err)
	}
	waitPeers(t, a, 0)
	if got := push.ConnectedEndpoints(); !reflect.DeepEqual(got, []string{epB}) {
		t.Fatalf("after Disconnect, ConnectedEndpoints() = %q", got)
	}
	for i := range 100 {
		if err := push.Send(ctx, NewMsgString(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		if m := mustRecv(t, ctx, b); string(m[0]) != fmt.Sprint(i) {
			t.Fatalf("b got %q, want %d", m, i)
		}
	}
	// Ten reconnect intervals later, a still has no peer and got nothing.
	time.Sleep(100 * time.Millisecond)
	if n := a.Stats().Peers; n != 0 {
		t.Fatalf("the disconnected PULL has %d peers: the PUSH reconnected", n)
	}
	if n := a.Stats().MsgsIn; n != 0 {
		t.Fatalf("the disconnected PULL received %d messages", n)
	}

	// The endpoint can be connected again.
	connect(t, push, epA)
	waitPeers(t, push, 2)
}

func sortedPair(a, b string) []string {
	if a > b {
		a, b = b, a
	}
	return []string{a, b}
}

func TestDisconnectErrors(t *testing.T) {
	s := newSock(t, SUB)
	if err := s.Disconnect("tcp://127.0.0.1:1"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Disconnect of an unknown endpoint = %v; want ErrNotConnected", err)
	}
	connect(t, s, "tcp://127.0.0.1:1")
	if err := s.Disconnect("tcp://localhost:1"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Disconnect of another spelling = %v; want ErrNotConnected (endpoints match as given)", err)
	}
	if err := s.Disconnect("tcp://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Disconnect("tcp://127.0.0.1:1"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("second Disconnect = %v; want ErrNotConnected", err)
	}
	s.Close()
	if err := s.Disconnect("tcp://127.0.0.1:1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Disconnect after Close = %v; want ErrClosed", err)
	}
}

// Messages received from the disconnected peer and not yet taken by Recv
// are discarded (zmq_disconnect); those of other peers are not.
func TestDisconnectDiscardsUnreadInput(t *testing.T) {
	ctx := testCtx(t)
	pushA, pushB := newSock(t, PUSH), newSock(t, PUSH)
	epA, epB := bind(t, pushA), bind(t, pushB)
	pull := newSock(t, PULL)
	connect(t, pull, epA)
	connect(t, pull, epB)
	waitPeers(t, pull, 2)
	for i := range 10 {
		if err := pushA.Send(ctx, NewMsgString("a", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if err := pushB.Send(ctx, NewMsgString("b", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for pull.Stats().MsgsIn < 20 {
		time.Sleep(time.Millisecond)
	}
	if err := pull.Disconnect(epA); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if m := mustRecv(t, ctx, pull); string(m[0]) != "b" || string(m[1]) != fmt.Sprint(i) {
			t.Fatalf("got %q, want b %d", m, i)
		}
	}
	recvNone(t, pull, 100*time.Millisecond)
}

// Messages already queued for the disconnected peer are written within the
// linger period before the connection closes.
func TestDisconnectWritesQueuedWithinLinger(t *testing.T) {
	ctx := testCtx(t)
	for typ, peerTyp := range map[SocketType]SocketType{PUSH: PULL, DEALER: DEALER, PUB: SUB} {
		t.Run(typ.String(), func(t *testing.T) {
			peer := newSock(t, peerTyp, WithRecvHWM(0))
			if peerTyp == SUB {
				if err := peer.Subscribe(nil); err != nil {
					t.Fatal(err)
				}
			}
			ep := bind(t, peer)
			s := newSock(t, typ, WithSendHWM(0), WithLinger(5*time.Second))
			connect(t, s, ep)
			waitPeers(t, s, 1)
			for typ == PUB && s.Stats().Subscriptions < 1 {
				time.Sleep(time.Millisecond)
			}
			const n = 20000
			for i := range n {
				if err := s.Send(ctx, NewMsgString(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Disconnect(ep); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if m := mustRecv(t, ctx, peer); string(m[0]) != fmt.Sprint(i) {
					t.Fatalf("got %q, want %d", m, i)
				}
			}
		})
	}
}

// A SUB connected to two PUBs disconnects one: it hears only the other,
// keeps its subscriptions, and the departed PUB loses its subscriber.
func TestDisconnectSubscriber(t *testing.T) {
	ctx := testCtx(t)
	pubA, pubB := newSock(t, PUB), newSock(t, PUB)
	epA, epB := bind(t, pubA), bind(t, pubB)
	sub := newSock(t, SUB)
	if err := sub.Subscribe([]byte("t")); err != nil {
		t.Fatal(err)
	}
	connect(t, sub, epA)
	connect(t, sub, epB)
	for pubA.Stats().Subscriptions < 1 || pubB.Stats().Subscriptions < 1 {
		time.Sleep(time.Millisecond)
	}
	if err := sub.Disconnect(epA); err != nil {
		t.Fatal(err)
	}
	waitPeers(t, pubA, 0)
	for i := range 10 {
		_ = pubA.Send(ctx, NewMsgString("t", "a"))
		if err := pubB.Send(ctx, NewMsgString("t", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if m := mustRecv(t, ctx, sub); string(m[1]) != fmt.Sprint(i) {
			t.Fatalf("got %q, want t %d", m, i)
		}
	}
	recvNone(t, sub, 100*time.Millisecond)
}

// Disconnecting endpoints that never answer, or that are mid-backoff,
// leaves no goroutine behind.
func TestDisconnectStopsDialLoops(t *testing.T) {
	s := newSock(t, DEALER, WithReconnectInterval(5*time.Millisecond, 5*time.Millisecond))
	base := runtime.NumGoroutine()
	var eps []string
	for i := range 50 {
		ep := fmt.Sprintf("tcp://127.0.0.1:%d", 1+i) // nothing listens there
		eps = append(eps, ep)
		connect(t, s, ep)
	}
	time.Sleep(20 * time.Millisecond)
	for _, ep := range eps {
		if err := s.Disconnect(ep); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before the connects", runtime.NumGoroutine(), base)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Connects, disconnects, sends and Close race without deadlock or data
// race (run with -race).
func TestDisconnectConcurrent(t *testing.T) {
	ctx := testCtx(t)
	pulls := make([]*Socket, 4)
	eps := make([]string, 4)
	for i := range pulls {
		pulls[i] = newSock(t, PULL)
		eps[i] = bind(t, pulls[i])
	}
	push := newSock(t, PUSH, WithReconnectInterval(time.Millisecond, time.Millisecond), WithLinger(10*time.Millisecond))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ep := eps[i%len(eps)]
			_ = push.Connect(ep)
			time.Sleep(time.Millisecond)
			_ = push.Disconnect(ep)
		}
	}()
	go func() {
		for i := 0; ; i++ {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			err := push.Send(sctx, NewMsgString(fmt.Sprint(i)))
			cancel()
			if errors.Is(err, ErrClosed) {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	closed := make(chan struct{})
	go func() { push.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung after concurrent Connect/Disconnect")
	}
}
