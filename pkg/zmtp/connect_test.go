package zmtp

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// movingDialer plays a name server: it dials whatever address the name
// currently points at, as a Service or pod DNS name does when a pod is
// replaced, and records the addresses it was asked for.
type movingDialer struct {
	name   string
	target atomic.Value // string
	mu     sync.Mutex
	asked  []string
}

func (d *movingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, addr)
	d.mu.Unlock()
	if addr == d.name {
		addr = d.target.Load().(string)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *movingDialer) askedFor() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

// TestConnectTimeoutFollowsMovedName: the peer behind a name dies and its
// old address drops SYNs (a deleted pod's IP); the name moves to a live
// PULL. Without a connect timeout the attempt in flight waits out the
// kernel's SYN retries (2 min 15 s measured); with the default
// DefaultConnectTimeout delivery comes within that timeout plus one
// backoff interval, and the name is resolved again on the next attempt.
func TestConnectTimeoutFollowsMovedName(t *testing.T) {
	dead := deadAddr(t)
	pull := newSock(t, PULL)
	live := strings.TrimPrefix(bind(t, pull), "tcp://")

	d := &movingDialer{name: "pipeline-sink.test:5555"}
	d.target.Store(dead)
	push := newSock(t, PUSH, WithDialer(d))
	connect(t, push, "tcp://"+d.name)
	// Let the first attempt reach the dead address, then move the name.
	for len(d.askedFor()) == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	d.target.Store(live)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := push.Send(ctx, NewMsgString("task")); err != nil {
		t.Fatalf("Send: %v (no connection to the moved name after %v)", err, time.Since(start))
	}
	if m := mustRecv(t, ctx, pull); string(m[0]) != "task" {
		t.Fatalf("got %q", m)
	}
	elapsed := time.Since(start)
	// Bound: the attempt in flight times out, then one backoff interval
	// (+25% jitter); generous slack for a loaded machine, far below the
	// kernel's 2 min.
	if bound := DefaultConnectTimeout + DefaultReconnectInterval*5/4 + 3*time.Second; elapsed > bound {
		t.Fatalf("delivered after %v; want within %v", elapsed, bound)
	}
	for _, a := range d.askedFor() {
		if a != d.name {
			t.Fatalf("dialer asked for %q: the name must be passed on unresolved, so each attempt resolves it again", a)
		}
	}
	if n := len(d.askedFor()); n < 2 {
		t.Fatalf("%d dial attempts; want a new attempt after the timeout", n)
	}
	t.Logf("delivered %v after the name moved; %d attempts", elapsed, len(d.askedFor()))
}

// TestConnectTimeoutOption: a shorter WithConnectTimeout abandons a
// silent address sooner; zero leaves the attempt to the kernel.
func TestConnectTimeoutOption(t *testing.T) {
	dead := deadAddr(t)
	var mu sync.Mutex
	var durations []time.Duration
	dialer := dialFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		var nd net.Dialer
		c, err := nd.DialContext(ctx, network, addr)
		mu.Lock()
		durations = append(durations, time.Since(start))
		mu.Unlock()
		return c, err
	})
	push := newSock(t, PUSH, WithDialer(dialer), WithConnectTimeout(200*time.Millisecond),
		WithReconnectInterval(10*time.Millisecond, 10*time.Millisecond))
	connect(t, push, "tcp://"+dead)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(durations)
		got := append([]time.Duration(nil), durations...)
		mu.Unlock()
		if n >= 3 {
			for _, d := range got {
				if d < 150*time.Millisecond || d > 2*time.Second {
					t.Fatalf("attempt lasted %v; want about 200ms", d)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts in 10 s; want attempts abandoned after 200ms", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (f dialFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}

// TestReconnectBackoffAfterShortConnections: a server that completes the
// handshake and drops us 10 ms later, and a second PAIR against a PAIR
// that already has its partner, must be retried at the doubling pace of
// the default backoff (about 5 attempts in 3 s), not reset to the minimum
// after every short-lived connection (23-27 attempts measured before).
func TestReconnectBackoffAfterShortConnections(t *testing.T) {
	const window = 3 * time.Second
	// Attempts at about 0, 0.1, 0.3, 0.7, 1.5 s (+ up to 25% jitter) and
	// the next one after 3.1 s.
	const maxAttempts = 6

	t.Run("server drops after handshake", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var accepted atomic.Int32
		go func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				go func() {
					defer nc.Close()
					if _, err := handshake(nc, PULL, nil, time.Now().Add(5*time.Second)); err == nil {
						time.Sleep(10 * time.Millisecond)
					}
				}()
			}
		}()
		push := newSock(t, PUSH)
		connect(t, push, "tcp://"+ln.Addr().String())
		time.Sleep(window)
		n := accepted.Load()
		t.Logf("%d connections in %v", n, window)
		if n < 3 || n > maxAttempts {
			t.Fatalf("%d connections in %v; want 3..%d", n, window, maxAttempts)
		}
	})

	t.Run("PAIR already paired", func(t *testing.T) {
		server := newSock(t, PAIR)
		ep := bind(t, server)
		first := newSock(t, PAIR)
		connect(t, first, ep)
		waitPeers(t, server, 1)
		second := newSock(t, PAIR)
		connect(t, second, ep)
		time.Sleep(window)
		st := second.Stats()
		t.Logf("second PAIR: %d handshakes in %v", st.Handshakes, window)
		if st.Handshakes < 2 || st.Handshakes > maxAttempts {
			t.Fatalf("second PAIR made %d handshakes in %v; want 2..%d", st.Handshakes, window, maxAttempts)
		}
	})
}

// TestBackoffSchedule: doubling from min to max, reset only by a
// connection that stayed up for max.
func TestBackoffSchedule(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	b.reset()
	var got []time.Duration
	for range 6 {
		got = append(got, b.next())
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("schedule %v; want %v ms", got, want)
		}
	}
	b.connectionLasted(999 * time.Millisecond)
	if d := b.next(); d != time.Second {
		t.Fatalf("after a short connection: %v; want the schedule kept (1s)", d)
	}
	b.connectionLasted(time.Second)
	if d := b.next(); d != 100*time.Millisecond {
		t.Fatalf("after a stable connection: %v; want 100ms", d)
	}
}
