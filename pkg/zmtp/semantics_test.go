package zmtp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestPushSplitsEvenly: PUSH round-robins 3,000 messages over 3 PULL peers,
// 1,000 each within 5%, no duplicates, none lost (acceptance 2).
func TestPushSplitsEvenly(t *testing.T) {
	ctx := testCtx(t)
	push := newSock(t, PUSH)
	ep := bind(t, push)
	pulls := make([]*Socket, 3)
	for i := range pulls {
		pulls[i] = newSock(t, PULL)
		connect(t, pulls[i], ep)
	}
	waitPeers(t, push, 3)
	const n = 3000
	for i := 0; i < n; i++ {
		if err := push.Send(ctx, Msg{binary.BigEndian.AppendUint32(nil, uint32(i))}); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[uint32]bool, n)
	counts := make([]int, 3)
	total := 0
	for total < n {
		progressed := false
		for i, p := range pulls {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
			m, err := p.Recv(rctx)
			cancel()
			if err != nil {
				continue
			}
			progressed = true
			v := binary.BigEndian.Uint32(m[0])
			if seen[v] {
				t.Fatalf("duplicate message %d", v)
			}
			seen[v] = true
			counts[i]++
			total++
		}
		if !progressed && ctx.Err() != nil {
			t.Fatalf("stalled after %d messages: %v", total, counts)
		}
	}
	for i, c := range counts {
		if c < 950 || c > 1050 {
			t.Fatalf("peer %d got %d messages, want 1000±5%%: %v", i, c, counts)
		}
	}
	t.Logf("split: %v", counts)
}

// TestForwarderForwardsSubscriptions: SUB -> XPUB [Proxy] XSUB -> PUB. The
// subscriber's subscription travels upstream to the publisher, and only
// matching messages come back (acceptance 2).
func TestForwarderForwardsSubscriptions(t *testing.T) {
	ctx := testCtx(t)
	pub := newSock(t, PUB)
	xsub := newSock(t, XSUB)
	xpub := newSock(t, XPUB)
	sub := newSock(t, SUB)
	connect(t, xsub, bind(t, pub))
	connect(t, sub, bind(t, xpub))
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	proxyDone := make(chan error, 1)
	go func() { proxyDone <- Proxy(pctx, xsub, xpub) }()
	if err := sub.Subscribe([]byte("weather.")); err != nil {
		t.Fatal(err)
	}
	// The publisher learns the subscription through the proxy.
	for pub.Stats().Subscriptions != 1 {
		if ctx.Err() != nil {
			t.Fatal("subscription never reached the publisher")
		}
		time.Sleep(time.Millisecond)
	}
	if got := xsub.Stats().Subscriptions; got != 1 {
		t.Fatalf("XSUB holds %d subscriptions, want 1", got)
	}
	for i := 0; i < 100; i++ {
		topic := "sports.x"
		if i%4 == 0 {
			topic = "weather.x"
		}
		if err := pub.Send(ctx, NewMsgString(topic, "body")); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Send(ctx, NewMsgString("weather.end")); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m := mustRecv(t, ctx, sub)
		if !bytes.HasPrefix(m[0], []byte("weather.")) {
			t.Fatalf("unsubscribed message %q delivered", m)
		}
		if string(m[0]) == "weather.end" {
			break
		}
		n++
	}
	if n != 25 {
		t.Fatalf("got %d matching messages, want 25", n)
	}
	// The upstream publisher filtered: the proxy never saw sports.
	if in := xsub.Stats().MsgsIn; in != 26 {
		t.Fatalf("XSUB received %d messages, want 26 (publisher-side filtering)", in)
	}
	// A departing subscriber's subscription is cancelled upstream.
	sub.Close()
	for pub.Stats().Subscriptions != 0 {
		if ctx.Err() != nil {
			t.Fatal("cancel never reached the publisher")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-proxyDone; err != nil {
		t.Fatalf("proxy: %v", err)
	}
}

// TestSlowSubscriberDoesNotStallFast: with one SUB stalled, a fast SUB on
// the same PUB still receives >= 95% of the messages, and the PUB counts
// the drops of the stalled one (acceptance 2).
func TestSlowSubscriberDoesNotStallFast(t *testing.T) {
	ctx := testCtx(t)
	pub := newSock(t, PUB, WithSendHWM(1000))
	ep := bind(t, pub)
	fast := newSock(t, SUB)
	slow := newSock(t, SUB, WithRecvHWM(10))
	for _, s := range []*Socket{fast, slow} {
		_ = s.Subscribe(nil)
		connect(t, s, ep)
	}
	waitPeers(t, pub, 2)
	for pub.Stats().Subscriptions < 1 || countSubscribedPeers(pub) < 2 {
		time.Sleep(time.Millisecond)
	}
	const n = 20000
	payload := make([]byte, 1024) // 20 MiB: more than the kernel buffers hold
	var fastCount atomic.Int64
	got := make(chan int)
	go func() {
		for {
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			m, err := fast.Recv(rctx)
			cancel()
			if err != nil || len(m) == 1 && string(m[0]) == "end" {
				got <- int(fastCount.Load())
				return
			}
			fastCount.Add(1)
		}
	}()
	for i := 0; i < n; i++ {
		if err := pub.Send(ctx, Msg{payload}); err != nil {
			t.Fatal(err)
		}
		if i%200 == 199 {
			// Pace the publisher on the fast subscriber only (at most 500
			// messages ahead, half its HWM), so the fast one's own HWM is
			// never the bottleneck, however slow the machine (-race). The
			// slow one never reads; if it could stall the publisher, this
			// loop would never finish.
			for int64(i+1)-fastCount.Load() > 500 && ctx.Err() == nil {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	_ = pub.Send(ctx, NewMsgString("end"))
	c := <-got
	drops := pub.Stats().Drops
	t.Logf("fast received %d/%d; PUB drops %d", c, n, drops)
	if c < n*95/100 {
		t.Fatalf("fast subscriber got %d of %d messages, want >= 95%%", c, n)
	}
	if drops == 0 {
		t.Fatal("no drops counted for the stalled subscriber")
	}
}

func countSubscribedPeers(s *Socket) int {
	n := 0
	for _, c := range s.dist.list() {
		if c.subs.count() > 0 {
			n++
		}
	}
	return n
}

// TestSubFiltersUnfilteredPublisher: a SUB screens messages itself, so a
// publisher that sends everything (an XSUB forwarding raw traffic, an old
// peer) still only delivers matches.
func TestSubFiltersUnfilteredPublisher(t *testing.T) {
	ctx := testCtx(t)
	sub := newSock(t, SUB)
	_ = sub.Subscribe([]byte("yes"))
	ep := bind(t, sub)
	// A raw publisher that ignores subscriptions and sends everything.
	raw := rawPeer(t, ep, PUB)
	raw.send(t, appendFrame(appendFrame(nil, 0, []byte("no.1")), 0, []byte("yes.1")))
	m := mustRecv(t, ctx, sub)
	if string(m[0]) != "yes.1" {
		t.Fatalf("got %q", m)
	}
}

func TestSocketTypeErrors(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, PULL)
	if err := pull.Send(ctx, NewMsgString("x")); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("PULL Send: %v", err)
	}
	push := newSock(t, PUSH)
	if _, err := push.Recv(ctx); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("PUSH Recv: %v", err)
	}
	if err := push.Subscribe(nil); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("PUSH Subscribe: %v", err)
	}
	rep := newSock(t, REP)
	if err := rep.Send(ctx, NewMsgString("x")); !errors.Is(err, ErrState) {
		t.Fatalf("REP Send before Recv: %v", err)
	}
	push.Close()
	if err := push.Send(ctx, NewMsgString("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	// Send with no peer blocks until the context ends.
	lonely := newSock(t, PUSH)
	sctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := lonely.Send(sctx, NewMsgString("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PUSH Send without peers: %v", err)
	}
}

// TestPushBlocksAtHWM: with the only peer not reading, PUSH fills its HWM
// (and the kernel buffers) and then Send blocks until the context ends; no
// message is dropped.
func TestPushBlocksAtHWM(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, PULL, WithRecvHWM(1))
	push := newSock(t, PUSH, WithSendHWM(1), WithLinger(0))
	connect(t, push, bind(t, pull))
	waitPeers(t, push, 1)
	big := make([]byte, 1<<20)
	sent := 0
	for ; sent < 200; sent++ { // bounded: 200 MiB would exceed any buffer
		sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := push.Send(sctx, Msg{big})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if sent == 200 {
		t.Fatal("Send never blocked")
	}
	if d := push.Stats().Drops; d != 0 {
		t.Fatalf("PUSH dropped %d", d)
	}
	// Everything accepted is delivered once the receiver reads.
	for i := 0; i < sent; i++ {
		mustRecv(t, ctx, pull)
	}
	t.Logf("Send blocked after %d x 1 MiB", sent)
}

// TestForwarderSurvivesPublisherRestart: an upstream publisher that
// disconnects mid-stream neither crashes nor stops the device (the
// go-zeromq/zmq4 proxy panics here), and a new publisher is served.
func TestForwarderSurvivesPublisherRestart(t *testing.T) {
	ctx := testCtx(t)
	xsub, xpub := newSock(t, XSUB), newSock(t, XPUB)
	fe, be := bind(t, xsub), bind(t, xpub)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Proxy(pctx, xsub, xpub) }()
	sub := newSock(t, SUB)
	_ = sub.Subscribe(nil)
	connect(t, sub, be)
	for round := 0; round < 3; round++ {
		pub, err := NewSocket(PUB, WithLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		connect(t, pub, fe)
		for pub.Stats().Subscriptions == 0 {
			time.Sleep(time.Millisecond)
		}
		want := fmt.Sprint("round-", round)
		for i := 0; i < 50; i++ {
			_ = pub.Send(ctx, NewMsgString(want, "x"))
		}
		if m := mustRecv(t, ctx, sub); string(m[0]) != want {
			t.Fatalf("got %q, want %s", m, want)
		}
		pub.Close() // mid-stream: some of the 50 may still be in flight
		for {
			rctx, rcancel := context.WithTimeout(ctx, 20*time.Millisecond)
			_, err := sub.Recv(rctx)
			rcancel()
			if err != nil {
				break
			}
		}
	}
	select {
	case err := <-done:
		t.Fatalf("proxy ended: %v", err)
	default:
	}
}
