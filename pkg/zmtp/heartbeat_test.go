package zmtp

import (
	"net"
	"sync"
	"testing"
	"time"
)

// TestPingAnswered: a PING is answered with a PONG carrying its context,
// and a message that arrived in the same read as the PING is delivered
// (regression: the batch was held back until the next data message).
func TestPingAnswered(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, PULL)
	r := rawPeer(t, bind(t, pull), PUSH)
	r.send(t, append(appendFrame(nil, 0, []byte("before-ping")), appendCommand(nil, cmdPing, []byte("\x00\x00abc"))...))
	flags, body := r.readFrame(t)
	cmd, err := parseCommand(body)
	if err != nil || flags&flagCommand == 0 || cmd.Name != cmdPong || string(cmd.Data) != "abc" {
		t.Fatalf("got flags %x %q, %v; want PONG abc", flags, body, err)
	}
	if m := mustRecv(t, ctx, pull); string(m[0]) != "before-ping" {
		t.Fatalf("got %q", m)
	}
}

// TestHeartbeatTimeout: a 3.1 peer that never answers our PINGs is
// disconnected.
func TestHeartbeatTimeout(t *testing.T) {
	pull := newSock(t, PULL, WithHeartbeat(Heartbeat{Interval: 20 * time.Millisecond, Timeout: 60 * time.Millisecond, TTL: time.Second}))
	r := rawPeer(t, bind(t, pull), PUSH)
	flags, body := r.readFrame(t)
	cmd, _ := parseCommand(body)
	if flags&flagCommand == 0 || cmd.Name != cmdPing || string(cmd.Data) != "\x00\x0a" {
		t.Fatalf("got %x %q; want PING with TTL 10 deciseconds", flags, body)
	}
	r.waitClosed(t)
}

// TestPeerTTL: a peer that announced a TTL in its PING and then goes
// silent is disconnected after the TTL.
func TestPeerTTL(t *testing.T) {
	pull := newSock(t, PULL)
	r := rawPeer(t, bind(t, pull), PUSH)
	r.send(t, appendCommand(nil, cmdPing, []byte{0, 1})) // TTL 100 ms
	r.readFrame(t)                                       // PONG
	r.waitClosed(t)
}

// TestNoHeartbeatsToZMTP30: RFC 37 PING does not exist in 3.0; a 3.0 peer
// (go-zeromq/zmq4) would hand it to its application.
func TestNoHeartbeatsToZMTP30(t *testing.T) {
	pull := newSock(t, PULL, WithHeartbeat(Heartbeat{Interval: 10 * time.Millisecond}))
	r := rawDial(t, bind(t, pull))
	r.send(t, appendGreeting(nil, Greeting{Major: 3, Minor: 0, Mechanism: MechanismNull}))
	if _, err := readGreeting(r.br); err != nil {
		t.Fatal(err)
	}
	r.send(t, appendCommand(nil, cmdReady, readyData(PUSH, nil)))
	if _, err := readPeerReady(&handshakeIO{fr: &frameReader{r: r.br}}); err != nil {
		t.Fatal(err)
	}
	_ = r.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	b := make([]byte, 1)
	_, err := r.br.Read(b)
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("got %q, %v from our socket; want silence", b, err)
	}
}

// fakeClock drives heartbeats in tests: time moves only on Advance.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	tickers []*fakeTicker
}

type fakeTicker struct {
	period time.Duration
	next   time.Time
	ch     chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1000, 0)} }

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) newTicker(d time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tk := &fakeTicker{period: d, next: f.t.Add(d), ch: make(chan time.Time)}
	f.tickers = append(f.tickers, tk)
	return tk.ch, func() {}
}

// waitTicker waits (bounded) until a goroutine created a ticker.
func (f *fakeClock) waitTicker(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.tickers)
		f.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("heartbeat never started")
		}
		time.Sleep(time.Millisecond)
	}
}

// advance moves time by d, delivering each due tick synchronously (so the
// heartbeat goroutine has taken it when advance returns), or giving up on
// a ticker whose goroutine has exited (done closed).
func (f *fakeClock) advance(d time.Duration, done <-chan struct{}) {
	f.mu.Lock()
	end := f.t.Add(d)
	f.mu.Unlock()
	for {
		f.mu.Lock()
		var due *fakeTicker
		for _, tk := range f.tickers {
			if !tk.next.After(end) && (due == nil || tk.next.Before(due.next)) {
				due = tk
			}
		}
		if due == nil {
			f.t = end
			f.mu.Unlock()
			return
		}
		f.t = due.next
		due.next = due.next.Add(due.period)
		now := f.t
		f.mu.Unlock()
		select {
		case due.ch <- now:
		case <-done:
			return
		}
	}
}

// TestHeartbeatFakeClock: with a fake clock, PINGs go out every Interval;
// a peer that answers stays connected however long; one that stops
// answering is dropped after Interval+Timeout, not before.
func TestHeartbeatFakeClock(t *testing.T) {
	fc := newFakeClock()
	hb := Heartbeat{Interval: time.Second, Timeout: 3 * time.Second, TTL: 10 * time.Second}
	pull := newSock(t, PULL, WithHeartbeat(hb), func(o *options) { o.clock = fc })
	p := attachPipe(t, pull, PUSH)
	p.wantGreeting()
	p.wantCommand(cmdReady)
	fc.waitTicker(t)
	var c *conn
	for c == nil {
		pull.mu.Lock()
		for x := range pull.conns {
			c = x
		}
		pull.mu.Unlock()
	}
	// An answering peer: one minute of fake time, a PONG after each PING.
	for i := 0; i < 60; i++ {
		fc.advance(time.Second, c.done)
		if cmd := p.wantCommand(cmdPing); string(cmd.Data) != "\x00\x64" {
			t.Fatalf("PING data %q; want TTL 100 deciseconds", cmd.Data)
		}
		p.write(appendCommand(nil, cmdPong, nil))
		for !c.traffic.Load() { // the PONG was read
			time.Sleep(100 * time.Microsecond)
		}
	}
	if c.closed() {
		t.Fatalf("answering peer dropped: %v", c.err)
	}
	// Silence: Interval+Timeout = 4 s of fake time is tolerated...
	fc.advance(4*time.Second, c.done)
	if c.closed() {
		t.Fatalf("dropped before the timeout: %v", c.err)
	}
	// ...and within two more ticks (the PONG was seen at the tick after
	// it arrived) the connection is dropped.
	fc.advance(2*time.Second, c.done)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("silent peer not dropped")
	}
	if c.err != ErrHeartbeatTimeout {
		t.Fatalf("closed with %v; want ErrHeartbeatTimeout", c.err)
	}
}
