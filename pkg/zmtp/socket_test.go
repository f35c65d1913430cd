package zmtp

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestPushPullRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, PULL)
	push := newSock(t, PUSH)
	connect(t, push, bind(t, pull))
	for i := 0; i < 1000; i++ {
		if err := push.Send(ctx, NewMsgString(fmt.Sprint("m", i), "tail")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 1000; i++ {
		m := mustRecv(t, ctx, pull)
		if len(m) != 2 || string(m[0]) != fmt.Sprint("m", i) || string(m[1]) != "tail" {
			t.Fatalf("msg %d: got %q", i, m)
		}
	}
}

func TestPubSubPrefixFilter(t *testing.T) {
	ctx := testCtx(t)
	pub := newSock(t, PUB)
	sub := newSock(t, SUB)
	if err := sub.Subscribe([]byte("a.")); err != nil {
		t.Fatal(err)
	}
	connect(t, sub, bind(t, pub))
	waitPeers(t, pub, 1)
	// Wait until the publisher has the subscription (slow joiner).
	for pub.Stats().Subscriptions < 1 {
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 100; i++ {
		topic := "b.x"
		if i%2 == 0 {
			topic = "a.x"
		}
		if err := pub.Send(ctx, NewMsgString(topic, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i += 2 {
		m := mustRecv(t, ctx, sub)
		if string(m[0]) != "a.x" || string(m[1]) != fmt.Sprint(i) {
			t.Fatalf("got %q, want a.x %d", m, i)
		}
	}
}

func TestReqRepRouterDealer(t *testing.T) {
	ctx := testCtx(t)
	// REQ -> ROUTER<->DEALER (Proxy) -> REP
	router := newSock(t, ROUTER)
	dealer := newSock(t, DEALER)
	rep := newSock(t, REP)
	req := newSock(t, REQ)
	fe := bind(t, router)
	be := bind(t, dealer)
	connect(t, rep, be)
	connect(t, req, fe)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go Proxy(pctx, router, dealer)
	go func() {
		for {
			m, err := rep.Recv(pctx)
			if err != nil {
				return
			}
			rep.Send(pctx, append(Msg{[]byte("re:")}, m...))
		}
	}()
	for i := 0; i < 50; i++ {
		if err := req.Send(ctx, NewMsgString("q", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		m := mustRecv(t, ctx, req)
		if len(m) != 3 || string(m[0]) != "re:" || string(m[2]) != fmt.Sprint(i) {
			t.Fatalf("reply %d: %q", i, m)
		}
	}
	if err := req.Send(ctx, NewMsgString("x")); err != nil {
		t.Fatal(err)
	}
	if err := req.Send(ctx, NewMsgString("y")); !errors.Is(err, ErrState) {
		t.Fatalf("second send: %v, want ErrState", err)
	}
}

// TestEagerPeer: a peer that sends greeting, READY and messages in one
// write (before reading anything) loses nothing when the connection
// switches from handshake to traffic buffers.
func TestEagerPeer(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, PULL)
	r := rawDial(t, bind(t, pull))
	b := append(ourGreeting(), appendCommand(nil, cmdReady, readyData(PUSH, nil))...)
	for i := 0; i < 100; i++ {
		b = appendFrame(b, 0, []byte(fmt.Sprint("eager-", i)))
	}
	r.send(t, b)
	for i := 0; i < 100; i++ {
		if m := mustRecv(t, ctx, pull); string(m[0]) != fmt.Sprint("eager-", i) {
			t.Fatalf("got %q, want eager-%d", m, i)
		}
	}
}

// TestConcurrentUse: a Socket is safe for concurrent Send and Recv.
func TestConcurrentUse(t *testing.T) {
	ctx := testCtx(t)
	push := newSock(t, PUSH, WithSendHWM(10))
	pull := newSock(t, PULL, WithRecvHWM(10))
	connect(t, push, bind(t, pull))
	const senders, per = 4, 500
	errs := make(chan error, senders)
	for s := 0; s < senders; s++ {
		go func(s int) {
			for i := 0; i < per; i++ {
				if err := push.Send(ctx, NewMsgString(fmt.Sprint(s, "-", i))); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(s)
	}
	got := make(chan string, senders*per)
	for r := 0; r < 2; r++ {
		go func() {
			for {
				m, err := pull.Recv(ctx)
				if err != nil {
					return
				}
				got <- string(m[0])
			}
		}()
	}
	for s := 0; s < senders; s++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < senders*per {
		select {
		case m := <-got:
			if seen[m] {
				t.Fatalf("duplicate %s", m)
			}
			seen[m] = true
		case <-ctx.Done():
			t.Fatalf("received %d of %d", len(seen), senders*per)
		}
	}
}
