package zmtp

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"
)

// TestForwarderHoldsBackWhenEverySubscriberIsFull: PUB -> XSUB [Proxy]
// XPUB -> SUB, the device's queues bounded at 10 messages and its only
// subscriber not reading while 3,000 multipart messages are published.
// Instead of dropping at the XPUB's HWM, the device stops taking from its
// XSUB, so the publisher's (unbounded) queue holds the surplus; once the
// subscriber reads, every message arrives whole and in order and the
// device counted no drop.
func TestForwarderHoldsBackWhenEverySubscriberIsFull(t *testing.T) {
	ctx := testCtx(t)
	const n, hwm = 3000, 10
	pub := newSock(t, PUB, WithSendHWM(0))
	xsub := newSock(t, XSUB, WithSendHWM(hwm), WithRecvHWM(hwm))
	xpub := newSock(t, XPUB, WithSendHWM(hwm), WithRecvHWM(hwm))
	sub := newSock(t, SUB, WithRecvHWM(hwm))
	connect(t, xsub, bind(t, pub))
	connect(t, sub, bind(t, xpub))
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	proxyDone := make(chan error, 1)
	go func() { proxyDone <- Proxy(pctx, xsub, xpub) }()
	if err := sub.Subscribe(nil); err != nil {
		t.Fatal(err)
	}
	for pub.Stats().Subscriptions != 1 {
		if ctx.Err() != nil {
			t.Fatal("subscription never reached the publisher")
		}
		time.Sleep(time.Millisecond)
	}
	body := make([]byte, 1024) // fills kernel buffers quickly
	for i := 0; i < n; i++ {
		seq := binary.BigEndian.AppendUint32(nil, uint32(i))
		if err := pub.Send(ctx, Msg{seq, body}); err != nil {
			t.Fatal(err)
		}
	}
	// Let the device run into the stalled subscriber.
	time.Sleep(300 * time.Millisecond)
	if d := xpub.Stats().Drops; d != 0 {
		t.Fatalf("the device dropped %d messages while its only subscriber was full", d)
	}
	for i := 0; i < n; i++ {
		m := mustRecv(t, ctx, sub)
		if len(m) != 2 || len(m[0]) != 4 || len(m[1]) != len(body) {
			t.Fatalf("message %d arrived as %d frames", i, len(m))
		}
		if got := binary.BigEndian.Uint32(m[0]); got != uint32(i) {
			t.Fatalf("message %d arrived as #%d", i, got)
		}
	}
	if d := xpub.Stats().Drops + xsub.Stats().Drops; d != 0 {
		t.Fatalf("device drops = %d, want 0", d)
	}
	cancel()
	if err := <-proxyDone; err != nil {
		t.Fatalf("proxy: %v", err)
	}
}

// TestQueueBatchesKeepIdentities: two DEALER clients -> ROUTER [Proxy]
// DEALER -> an echoing DEALER worker. The clients send in bursts, so the
// proxy moves many messages per pass (more than its ROUTER reads per
// chunk); every reply still reaches the client that asked, whole.
func TestQueueBatchesKeepIdentities(t *testing.T) {
	ctx := testCtx(t)
	const n = 500
	router := newSock(t, ROUTER)
	dealer := newSock(t, DEALER)
	worker := newSock(t, DEALER)
	connect(t, worker, bind(t, dealer))
	front := bind(t, router)
	clients := map[string]*Socket{}
	for _, name := range []string{"a", "b"} {
		c := newSock(t, DEALER, WithIdentity([]byte(name)))
		connect(t, c, front)
		clients[name] = c
	}
	waitPeers(t, router, 2)
	waitPeers(t, dealer, 1)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	proxyDone := make(chan error, 1)
	go func() { proxyDone <- Proxy(pctx, router, dealer) }()
	go func() {
		for {
			m, err := worker.Recv(pctx)
			if err != nil {
				return
			}
			if worker.Send(pctx, m) != nil {
				return
			}
		}
	}()
	for name, c := range clients {
		for i := 0; i < n; i++ {
			if err := c.Send(ctx, NewMsgString(name, fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, c := range clients {
		for i := 0; i < n; i++ {
			m := mustRecv(t, ctx, c)
			if len(m) != 2 || string(m[0]) != name || string(m[1]) != fmt.Sprint(i) {
				t.Fatalf("client %s: reply %d is %q", name, i, m)
			}
		}
	}
	cancel()
	if err := <-proxyDone; err != nil {
		t.Fatalf("proxy: %v", err)
	}
}
