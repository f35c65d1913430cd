package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// These tests run the devices with pkg/zmtp peers on loopback; test/interop
// repeats them with libzmq and go-zeromq/zmq4 peers.

func newSock(t *testing.T, typ zmtp.SocketType, opts ...zmtp.Option) *zmtp.Socket {
	t.Helper()
	s, err := zmtp.NewSocket(typ, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func connect(t *testing.T, s *zmtp.Socket, ep string) {
	t.Helper()
	if err := s.Connect(ep); err != nil {
		t.Fatal(err)
	}
}

// TestForwarderDevice: three publishers, three subscribers each on its own
// topic: every subscriber gets its topic from every publisher and nothing
// else, and the device survives a publisher leaving mid-stream.
func TestForwarderDevice(t *testing.T) {
	front, back := startDevice(t, "forwarder", "XSUB", "XPUB")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	topics := []string{"alpha", "beta", "gamma"}
	subs := make([]*zmtp.Socket, len(topics))
	for i, topic := range topics {
		subs[i] = newSock(t, zmtp.SUB)
		connect(t, subs[i], back)
		if err := subs[i].Subscribe([]byte(topic)); err != nil {
			t.Fatal(err)
		}
	}
	pubs := make([]*zmtp.Socket, 3)
	for i := range pubs {
		pubs[i] = newSock(t, zmtp.PUB)
		connect(t, pubs[i], front)
	}
	// Publish until every subscriber has heard every publisher (the
	// subscriptions travel upstream asynchronously: the slow joiner).
	var mu sync.Mutex
	heard := make([]map[string]bool, len(subs))
	var wg sync.WaitGroup
	for i, s := range subs {
		heard[i] = map[string]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := s.Recv(ctx)
				if err != nil {
					return
				}
				// "<topic> pub<N> <n>": heard is keyed by publisher.
				topic, rest, _ := strings.Cut(string(m[0]), " ")
				pub, _, _ := strings.Cut(rest, " ")
				mu.Lock()
				if topic != topics[i] {
					t.Errorf("subscriber of %s got %q", topics[i], m[0])
				}
				heard[i][pub] = true
				mu.Unlock()
			}
		}()
	}
	all := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range subs {
			if len(heard[i]) < len(pubs) {
				return false
			}
		}
		return true
	}
	for n := 0; !all(); n++ {
		if ctx.Err() != nil {
			t.Fatalf("not every subscriber heard every publisher: %v", heard)
		}
		for p, pub := range pubs {
			for _, topic := range append(topics, "delta") {
				_ = pub.Send(ctx, zmtp.NewMsgString(fmt.Sprintf("%s pub%d %d", topic, p, n)))
			}
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A publisher disconnects mid-stream; the others still get through.
	pubs[0].Close()
	mu.Lock()
	for i := range heard {
		heard[i] = map[string]bool{}
	}
	mu.Unlock()
	for n := 0; ; n++ {
		mu.Lock()
		done := true
		for i := range heard {
			done = done && heard[i]["pub1"] && heard[i]["pub2"]
		}
		mu.Unlock()
		if done {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after a publisher left: %v", heard)
		}
		for p, pub := range pubs[1:] {
			for _, topic := range topics {
				_ = pub.Send(ctx, zmtp.NewMsgString(fmt.Sprintf("%s pub%d %d", topic, p+1, n)))
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
}

// TestStreamerSpreadsWork: one producer, three workers behind a Streamer:
// every task arrives once, spread over the workers.
func TestStreamerSpreadsWork(t *testing.T) {
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	front, back := startDevice(t, "streamer", "PULL", "PUSH", func(_ *zmqconfig.Config, args *[]string) {
		*args = []string{"--listen", metrics}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	workers := make([]*zmtp.Socket, 3)
	for i := range workers {
		workers[i] = newSock(t, zmtp.PULL)
		connect(t, workers[i], back)
	}
	push := newSock(t, zmtp.PUSH)
	connect(t, push, front)
	// Let every worker connect before sending, or the first ones take all.
	waitUntil(t, 10*time.Second, "three workers and a producer connected", func() bool {
		if _, err := http.Get("http://" + metrics + "/metrics"); err != nil {
			return false // not listening yet
		}
		m := scrape(t, "http://"+metrics)
		return m[`zmq_device_peers{side="backend"}`] == 3 && m[`zmq_device_peers{side="frontend"}`] == 1
	})

	const n = 3000
	go func() {
		for i := 0; i < n; i++ {
			if push.Send(ctx, zmtp.NewMsgString(fmt.Sprint(i))) != nil {
				return
			}
		}
	}()
	var mu sync.Mutex
	seen := map[string]int{}
	per := make([]int, len(workers))
	var wg sync.WaitGroup
	total := make(chan struct{}, n)
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := w.Recv(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				seen[string(m[0])]++
				per[i]++
				mu.Unlock()
				total <- struct{}{}
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case <-total:
		case <-ctx.Done():
			t.Fatalf("received %d of %d", i, n)
		}
	}
	cancel()
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d distinct tasks; want %d", len(seen), n)
	}
	for task, c := range seen {
		if c != 1 {
			t.Errorf("task %s delivered %d times", task, c)
		}
	}
	// Round-robin skips a worker whose queue is full, so under load the
	// split is not exact; every worker must still get a real share.
	for i, c := range per {
		if c < n/10 {
			t.Errorf("worker %d got %d of %d tasks (%v)", i, c, n, per)
		}
	}
	t.Logf("tasks per worker: %v", per)
}

// TestQueueRoundTrips: REQ clients through a Queue to REP workers, with
// every reply matching its request.
func TestQueueRoundTrips(t *testing.T) {
	front, back := startDevice(t, "queue", "ROUTER", "DEALER")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		rep := newSock(t, zmtp.REP)
		connect(t, rep, back)
		go func() {
			for {
				m, err := rep.Recv(ctx)
				if err != nil {
					return
				}
				if rep.Send(ctx, zmtp.NewMsgString("re:"+string(m[0]), fmt.Sprint(i))) != nil {
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for c := 0; c < 2; c++ {
		req := newSock(t, zmtp.REQ)
		connect(t, req, front)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				want := fmt.Sprintf("c%d-%d", c, i)
				if err := req.Send(ctx, zmtp.NewMsgString(want)); err != nil {
					t.Errorf("send: %v", err)
					return
				}
				m, err := req.Recv(ctx)
				if err != nil {
					t.Errorf("recv: %v", err)
					return
				}
				if string(m[0]) != "re:"+want || len(m) != 2 {
					t.Errorf("reply %q to %q", m, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// cutRelay relays TCP connections to a target. cut closes the client side
// of every relayed connection but leaves the target side open and silent,
// as a lost node or a broken network path leaves a connection.
type cutRelay struct {
	ep       string
	mu       sync.Mutex
	down, up []net.Conn
}

func newCutRelay(t *testing.T, target string) *cutRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &cutRelay{ep: "tcp://" + ln.Addr().String()}
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, c := range append(r.down, r.up...) {
			c.Close()
		}
	})
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", strings.TrimPrefix(target, "tcp://"))
			if err != nil {
				down.Close()
				continue
			}
			r.mu.Lock()
			r.down, r.up = append(r.down, down), append(r.up, up)
			r.mu.Unlock()
			// Neither copy closes anything: only cut and cleanup do.
			go func() { _, _ = io.Copy(up, down) }()
			go func() { _, _ = io.Copy(down, up) }()
		}
	}()
	return r
}

func (r *cutRelay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.down {
		c.Close()
	}
	r.down = nil
}

// TestQueueReconnectingClientGetsReply: a DEALER client with identity
// "client-1" sends q1 through a Queue; its connection breaks without the
// device noticing (the device's side stays open) and the client reconnects
// with the same identity and sends q2. Both replies, routed by identity,
// reach the client on its new connection: the Queue's ROUTER hands the
// identity over (ZMQ_ROUTER_HANDOVER) rather than refusing the newcomer
// or giving it another id while the dead connection holds "client-1".
func TestQueueReconnectingClientGetsReply(t *testing.T) {
	front, back := startDevice(t, "queue", "ROUTER", "DEALER")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recv := func(s *zmtp.Socket, what string) zmtp.Msg {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		m, err := s.Recv(rctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return m
	}
	// The worker is a DEALER so that it can hold q1 while it takes q2.
	worker := newSock(t, zmtp.DEALER)
	connect(t, worker, back)
	relay := newCutRelay(t, front)
	client := newSock(t, zmtp.DEALER, zmtp.WithIdentity([]byte("client-1")), zmtp.WithReconnectInterval(20*time.Millisecond, 100*time.Millisecond))
	connect(t, client, relay.ep)

	if err := client.Send(ctx, zmtp.NewMsgString("", "q1")); err != nil {
		t.Fatal(err)
	}
	q1 := recv(worker, "q1")
	if string(q1[0]) != "client-1" || string(q1[len(q1)-1]) != "q1" {
		t.Fatalf("worker got %q", q1)
	}
	relay.cut()
	waitUntil(t, 10*time.Second, "the client to reconnect", func() bool { return client.Stats().Handshakes >= 2 })
	if err := client.Send(ctx, zmtp.NewMsgString("", "q2")); err != nil {
		t.Fatal(err)
	}
	q2 := recv(worker, "q2 from the new connection")
	if string(q2[0]) != "client-1" || string(q2[len(q2)-1]) != "q2" {
		t.Fatalf("worker got %q, want q2 from client-1", q2)
	}
	for _, q := range []zmtp.Msg{q1, q2} {
		reply := append(zmtp.Msg{}, q[:len(q)-1]...)
		if err := worker.Send(ctx, append(reply, []byte("re:"+string(q[len(q)-1])))); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"re:q1", "re:q2"} {
		m := recv(client, want)
		if len(m) != 2 || len(m[0]) != 0 || string(m[1]) != want {
			t.Fatalf("client got %q, want [\"\" %q]", m, want)
		}
	}
}

// TestForwarderStalledSubscriber: a subscriber that stops reading is
// dropped at its high-water mark and does not slow another one; the drops
// are counted by the device.
func TestForwarderStalledSubscriber(t *testing.T) {
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	const hwm = 20000 // per subscriber; the kernel's socket buffers hold more
	front, back := startDevice(t, "forwarder", "XSUB", "XPUB", func(c *zmqconfig.Config, args *[]string) {
		h := int32(hwm)
		c.Sockets[1].Options.SndHWM = &h // per subscriber, on the device's XPUB
		*args = []string{"--listen", metrics}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fast := newSock(t, zmtp.SUB)
	connect(t, fast, back)
	_ = fast.Subscribe(nil)
	slow := newSock(t, zmtp.SUB, zmtp.WithRecvHWM(10))
	connect(t, slow, back)
	_ = slow.Subscribe(nil)                          // and never reads
	pub := newSock(t, zmtp.PUB, zmtp.WithSendHWM(0)) // no drops before the device
	connect(t, pub, front)

	// Wait until both subscriptions are in force end to end: each
	// subscriber has received a warm-up message. From then on the stalled
	// one stops reading, and every message it misses must be a counted drop.
	for _, sub := range []*zmtp.Socket{fast, slow} {
		awaitSubscription(ctx, t, pub, sub)
	}
	const n = 100000
	got := make(chan int)
	go func() {
		c := 0
		for {
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			m, err := fast.Recv(rctx)
			rcancel()
			if err != nil {
				got <- c
				return
			}
			if string(m[0]) != "warmup" {
				c++
			}
		}
	}()
	payload := make([]byte, 64)
	for i := 0; i < n; i++ {
		if err := pub.Send(ctx, zmtp.NewMsg(payload)); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 {
			time.Sleep(time.Millisecond) // the publisher's own HWM is not the point here
		}
	}
	received := <-got
	if received < n*95/100 {
		t.Errorf("fast subscriber got %d of %d with a stalled peer", received, n)
	}
	// Now drain the stalled subscriber: what it missed is what the device
	// counted as dropped (the count may include warm-up messages).
	slowGot := 0
	for {
		rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		m, err := slow.Recv(rctx)
		rcancel()
		if err != nil {
			break
		}
		if len(m[0]) == len(payload) {
			slowGot++
		}
	}
	drops := scrape(t, "http://"+metrics)[`zmq_device_dropped_messages_total{side="backend"}`]
	t.Logf("fast subscriber got %d of %d; the stalled one got %d and the device counted %.0f drops", received, n, slowGot, drops)
	if slowGot >= n || drops == 0 || float64(slowGot)+drops < n {
		t.Errorf("stalled subscriber got %d of %d but the device counted %.0f drops", slowGot, n, drops)
	}
}

// TestForwarderHoldsBackForItsOnlySubscriber: a publisher faster than the
// Forwarder's only subscriber loses nothing at the device. The device
// (zmtp.Forward) waits for room at its XPUB instead of dropping there, so
// the backlog stays with the publisher (whose HWM is unbounded here). A
// device that read eagerly and sent per message, as this binary once did,
// dropped most of such a burst at its XPUB's HWM.
func TestForwarderHoldsBackForItsOnlySubscriber(t *testing.T) {
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	const hwm = 100
	front, back := startDevice(t, "forwarder", "XSUB", "XPUB", func(c *zmqconfig.Config, args *[]string) {
		h := int32(hwm)
		for i := range c.Sockets {
			c.Sockets[i].Options.SndHWM, c.Sockets[i].Options.RcvHWM = &h, &h
		}
		*args = []string{"--listen", metrics}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub := newSock(t, zmtp.SUB, zmtp.WithRecvHWM(hwm))
	connect(t, sub, back)
	_ = sub.Subscribe(nil)
	pub := newSock(t, zmtp.PUB, zmtp.WithSendHWM(0))
	connect(t, pub, front)
	awaitSubscription(ctx, t, pub, sub)
	// 1 KiB messages, 24 MiB in all: more than the kernel's socket buffers
	// on the device's two connections hold, so the device's own queues
	// fill while the subscriber reads at about 20,000 messages/s.
	const n, size = 24 * 1024, 1024
	got := make(chan int)
	go func() {
		c := 0
		for c < n {
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			m, err := sub.Recv(rctx)
			rcancel()
			if err != nil {
				break
			}
			if len(m[0]) == size {
				c++
			}
			if c%20 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		got <- c
	}()
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		if err := pub.Send(ctx, zmtp.NewMsg(payload)); err != nil {
			t.Fatal(err)
		}
	}
	received := <-got
	drops := scrape(t, "http://"+metrics)[`zmq_device_dropped_messages_total{side="backend"}`]
	t.Logf("the subscriber got %d of %d; the device counted %.0f drops", received, n, drops)
	if received != n || drops != 0 {
		t.Errorf("the only subscriber got %d of %d and the device dropped %.0f: it should have held back instead", received, n, drops)
	}
}

// awaitSubscription sends warm-up messages until sub receives one: its
// subscription is then in force end to end, through the device.
func awaitSubscription(ctx context.Context, t *testing.T, pub, sub *zmtp.Socket) {
	t.Helper()
	for {
		_ = pub.Send(ctx, zmtp.NewMsgString("warmup"))
		rctx, rcancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err := sub.Recv(rctx)
		rcancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatal("subscription never arrived")
		}
	}
}
