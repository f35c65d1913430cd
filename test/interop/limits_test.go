package interop

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/internal/blackhole"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// Connect timeout (ZMQ_CONNECT_TIMEOUT) and maximum message size
// (ZMQ_MAXMSGSIZE) against libzmq 4.3.4.

func deadAddr(t *testing.T) string {
	t.Helper()
	addr, release, err := blackhole.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return addr
}

// movingName dials whatever address a name points at now, as cluster DNS
// does when a pod is replaced.
type movingName struct {
	name   string
	target atomic.Value // string
	dials  atomic.Int32
}

func (m *movingName) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	m.dials.Add(1)
	if addr == m.name {
		addr = m.target.Load().(string)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// TestConnectTimeoutMovedNameToLibzmq: our PUSH connects by name; the
// name's first address drops SYNs (a deleted pod); it moves to a libzmq
// PULL. With the default connect timeout the task arrives within that
// timeout plus one backoff interval, not after the kernel's 2 minutes.
func TestConnectTimeoutMovedNameToLibzmq(t *testing.T) {
	pull := newLibzmq(t, zmtp.PULL, "")
	live := strings.TrimPrefix(pull.bind(t), "tcp://")
	name := &movingName{name: "worker-0.workers.test:5555"}
	name.target.Store(deadAddr(t))
	push, err := zmtp.NewSocket(zmtp.PUSH, zmtp.WithDialer(name))
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	if err := push.Connect("tcp://" + name.name); err != nil {
		t.Fatal(err)
	}
	for name.dials.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	name.target.Store(live)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := push.Send(ctx, zmtp.NewMsgString("task")); err != nil {
		t.Fatalf("Send: %v after %v", err, time.Since(start))
	}
	m, err := pull.recv(15 * time.Second)
	if err != nil || string(m[0]) != "task" {
		t.Fatalf("libzmq PULL: %q, %v", m, err)
	}
	elapsed := time.Since(start)
	if bound := zmtp.DefaultConnectTimeout + zmtp.DefaultReconnectInterval*5/4 + 3*time.Second; elapsed > bound {
		t.Fatalf("delivered after %v; want within %v", elapsed, bound)
	}
	t.Logf("libzmq PULL got the task %v after the name moved (%d dials)", elapsed, name.dials.Load())
}

// TestLibzmqConnectTimeoutMatches: against an address that drops SYNs,
// libzmq with ZMQ_CONNECT_TIMEOUT=300 ms abandons and retries attempts
// (ZMQ_EVENT_CONNECT_RETRIED) just as our WithConnectTimeout does, while
// libzmq's default (0) keeps waiting on the first attempt.
func TestLibzmqConnectTimeoutMatches(t *testing.T) {
	const window = 2 * time.Second
	retries := func(timeout time.Duration) int {
		dead := deadAddr(t)
		s, err := czmq.NewSocket(czmq.PUSH)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_ = s.SetLinger(0)
		_ = s.SetReconnectIvl(100 * time.Millisecond)
		if timeout > 0 {
			if err := s.SetConnectTimeout(timeout); err != nil {
				t.Fatal(err)
			}
		}
		mon := fmt.Sprintf("inproc://monitor-%d", time.Now().UnixNano())
		if err := s.Monitor(mon, czmq.EVENT_CONNECT_RETRIED); err != nil {
			t.Fatal(err)
		}
		events, err := czmq.NewSocket(czmq.PAIR)
		if err != nil {
			t.Fatal(err)
		}
		defer events.Close()
		_ = events.SetLinger(0)
		if err := events.Connect(mon); err != nil {
			t.Fatal(err)
		}
		_ = events.SetRcvtimeo(100 * time.Millisecond)
		if err := s.Connect("tcp://" + dead); err != nil {
			t.Fatal(err)
		}
		n := 0
		for deadline := time.Now().Add(window); time.Now().Before(deadline); {
			if ev, _, _, err := events.RecvEvent(0); err == nil && ev == czmq.EVENT_CONNECT_RETRIED {
				n++
			}
		}
		return n
	}
	libzmqTimeout, libzmqDefault := retries(300*time.Millisecond), retries(0)

	var ours atomic.Int32
	counting := dialFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		ours.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	})
	push, err := zmtp.NewSocket(zmtp.PUSH, zmtp.WithDialer(counting), zmtp.WithConnectTimeout(300*time.Millisecond),
		zmtp.WithReconnectInterval(100*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	if err := push.Connect("tcp://" + deadAddr(t)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(window)
	oursRetries := int(ours.Load()) - 1
	t.Logf("retries in %v against a silent address: libzmq timeout=300ms %d, libzmq default %d, ours timeout=300ms %d",
		window, libzmqTimeout, libzmqDefault, oursRetries)
	if libzmqDefault != 0 {
		t.Errorf("libzmq without ZMQ_CONNECT_TIMEOUT retried %d times in %v; want 0 (kernel SYN retries)", libzmqDefault, window)
	}
	// 300 ms timeout + 100 ms interval (+ jitter): 4-5 attempts in 2 s.
	if libzmqTimeout < 3 || oursRetries < 3 || oursRetries > libzmqTimeout+2 || libzmqTimeout > oursRetries+2 {
		t.Errorf("retries: libzmq %d, ours %d; want both about 4", libzmqTimeout, oursRetries)
	}
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (f dialFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}

// TestMaxMsgSizeWithLibzmq: the limit is inclusive on both
// implementations: a receiver with ZMQ_MAXMSGSIZE=1000 takes 1000 octets
// and disconnects the sender at 1001; the sender reconnects and later
// messages flow. Ours counts the disconnect in Stats.OversizeDisconnects.
// One difference, measured here so that it stays known: libzmq 4.3 applies
// the limit to each frame, we apply it to the whole message (the sum of
// its frames, which is what bounds the receiver's memory), so a [600, 401]
// message passes libzmq's limit and not ours.
func TestMaxMsgSizeWithLibzmq(t *testing.T) {
	const limit = 1000
	cases := []struct {
		name         string
		perFrame     bool // the receiver limits frames, not messages
		sender, recv func(t *testing.T) peer
	}{
		{"libzmq PUSH to our PULL", false, func(t *testing.T) peer { return newLibzmq(t, zmtp.PUSH, "") }, func(t *testing.T) peer {
			s, err := zmtp.NewSocket(zmtp.PULL, zmtp.WithMaxMsgSize(limit))
			if err != nil {
				t.Fatal(err)
			}
			p := &oursPeer{s}
			t.Cleanup(p.close)
			return p
		}},
		{"our PUSH to libzmq PULL", true, func(t *testing.T) peer {
			s, err := zmtp.NewSocket(zmtp.PUSH, zmtp.WithReconnectInterval(20*time.Millisecond, 100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			p := &oursPeer{s}
			t.Cleanup(p.close)
			return p
		}, func(t *testing.T) peer {
			p := newLibzmq(t, zmtp.PULL, "")
			if err := p.(*libzmqPeer).s.SetMaxmsgsize(limit); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recv := tc.recv(t)
			sender := tc.sender(t)
			sender.connect(t, recv.bind(t))
			if err := sender.send(make([]byte, 600), make([]byte, 400)); err != nil {
				t.Fatal(err)
			}
			if m, err := recv.recv(10 * time.Second); err != nil || len(m) != 2 {
				t.Fatalf("a message of exactly the limit: %d frames, %v", len(m), err)
			}
			// A multipart message over the limit in sum, each frame under it.
			if err := sender.send(make([]byte, 600), make([]byte, 401)); err != nil {
				t.Fatal(err)
			}
			m, err := recv.recv(time.Second)
			if tc.perFrame != (err == nil) {
				t.Fatalf("[600, 401] with a per-frame limit %v: received %d frames, %v", tc.perFrame, len(m), err)
			}
			if err := sender.send(make([]byte, limit+1)); err != nil {
				t.Fatal(err)
			}
			// Messages sent right behind it share the dead connection's
			// kernel buffer and are lost with it (on both
			// implementations); keep sending until one arrives after the
			// reconnect.
			var got [][]byte
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				if err := sender.send([]byte("after")); err != nil {
					t.Fatal(err)
				}
				if m, err := recv.recv(200 * time.Millisecond); err == nil {
					got = m
					break
				}
			}
			if len(got) != 1 || string(got[0]) != "after" {
				t.Fatalf("after the oversize message got %q; want \"after\" once the sender reconnected", got)
			}
			if o, ok := recv.(*oursPeer); ok {
				// The 1001-octet frame was sent on the connection that the
				// multipart message had already closed, or on the next.
				if n := o.s.Stats().OversizeDisconnects; n < 1 || n > 2 {
					t.Fatalf("OversizeDisconnects = %d; want 1 or 2", n)
				}
			}
		})
	}
}
