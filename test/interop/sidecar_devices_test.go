package interop

// The operator-managed devices, run as `zmq-sidecar device ...`
// subprocesses, between libzmq (pebbe/zmq4) and go-zeromq/zmq4 peers
// (issue 5, acceptance line 2). devices_test.go checks pkg/zmtp's Proxy
// in-process; these go through the binary and its configuration file.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// waitPeers waits until the device reports the given number of peers on
// each side.
func waitPeers(t *testing.T, dev *sidecarProc, front, back int) {
	t.Helper()
	scWaitFor(t, 10*time.Second, fmt.Sprintf("%d frontend and %d backend peers", front, back), func() bool {
		m := scScrape(t, dev.base)
		return m.get("zmq_device_peers", "side", "frontend") == float64(front) && m.get("zmq_device_peers", "side", "backend") == float64(back)
	})
}

// TestSidecarForwarder: three publishers (libzmq, zmq4, libzmq) and three
// subscribers (libzmq, zmq4, libzmq), each on its own topic, through the
// Forwarder binary: every subscriber hears its topic from every publisher
// and nothing else (an unsubscribed topic is published too); then the zmq4
// publisher disconnects mid-stream and the two others still reach every
// subscriber.
func TestSidecarForwarder(t *testing.T) {
	dev, front, back := startDeviceProc(t, "forwarder", "XSUB", "XPUB", nil)
	topics := []string{"alpha", "beta", "gamma"}
	subImpls := []impl{libzmq, gozmq4, libzmq}
	pubImpls := []impl{libzmq, gozmq4, libzmq}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		heard = make([]map[string]int, len(topics)) // per subscriber: messages per publisher
		wrong []string
	)
	var loops []<-chan struct{}
	for i, topic := range topics {
		heard[i] = map[string]int{}
		s := subImpls[i].new(t, zmtp.SUB, "")
		s.subscribe(topic + " ")
		s.connect(t, back)
		loops = append(loops, recvLoop(ctx, s, func(m [][]byte) {
			f := strings.Fields(string(m[0]))
			mu.Lock()
			defer mu.Unlock()
			if len(m) != 1 || len(f) != 3 || f[0] != topic {
				wrong = append(wrong, fmt.Sprintf("%s subscriber (%s) got %s", topic, subImpls[i].name, show(m)))
				return
			}
			heard[i][f[1]]++
		}))
	}
	pubs := make([]peer, len(pubImpls))
	names := make([]string, len(pubImpls))
	for i, p := range pubImpls {
		pubs[i] = p.new(t, zmtp.PUB, "")
		pubs[i].connect(t, front)
		names[i] = fmt.Sprintf("pub%d-%s", i, p.name)
	}
	waitPeers(t, dev, len(pubs), len(topics))

	subscribed := 1 // messages sent on subscribed topics (one below)
	// publish sends one message per topic (and an unsubscribed "delta")
	// from each live publisher until every subscriber has heard each of
	// them `want` times more than at the start.
	publish := func(live []int, want int) int {
		t.Helper()
		mu.Lock()
		start := make([]map[string]int, len(heard))
		for i := range heard {
			start[i] = map[string]int{}
			for k, v := range heard[i] {
				start[i][k] = v
			}
		}
		mu.Unlock()
		done := func() bool {
			mu.Lock()
			defer mu.Unlock()
			for i := range heard {
				for _, p := range live {
					if heard[i][names[p]]-start[i][names[p]] < want {
						return false
					}
				}
			}
			return true
		}
		rounds := 0
		for ; !done(); rounds++ {
			if ctx.Err() != nil || rounds > 5000 {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("after %d rounds, not every subscriber heard %d messages from each of %v: %v", rounds, want, live, heard)
			}
			for _, p := range live {
				for _, topic := range append(topics, "delta") {
					if pubs[p].send([]byte(fmt.Sprintf("%s %s %d", topic, names[p], rounds))) == nil && topic != "delta" {
						subscribed++
					}
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		return rounds
	}
	rounds := publish([]int{0, 1, 2}, 50)
	t.Logf("all three publishers reached all three subscribers 50 times in %d rounds", rounds)

	// The zmq4 publisher disconnects mid-stream (it has just sent); the
	// others keep going.
	_ = pubs[1].send([]byte("alpha " + names[1] + " last"))
	pubs[1].close()
	rounds = publish([]int{0, 2}, 50)
	t.Logf("after the zmq4 publisher left: the two others reached every subscriber 50 more times in %d rounds", rounds)
	waitPeers(t, dev, 2, 3)

	cancel()
	for _, l := range loops {
		<-l
	}
	mu.Lock()
	defer mu.Unlock()
	for _, w := range wrong {
		t.Error(w)
	}
	m := scScrape(t, dev.base)
	// "delta" is filtered at the publishers (libzmq and zmq4) from the
	// subscriptions the device forwarded upstream: it never reaches it.
	if in := m.get("zmq_device_received_messages_total", "side", "frontend"); in > float64(subscribed) {
		t.Errorf("the device received %.0f messages; only %d were sent on subscribed topics", in, subscribed)
	}
	dev.stop(t) // with its peers still connected
	t.Logf("device: received %.0f on the frontend, sent %.0f on the backend, %.0f subscriptions held, %.0f drops; per subscriber %v",
		m.get("zmq_device_received_messages_total", "side", "frontend"), m.get("zmq_device_sent_messages_total", "side", "backend"),
		m.get("zmq_device_subscriptions", "side", "backend"), m.get("zmq_device_dropped_messages_total", "side", "backend"), heard)
}

// TestSidecarStreamer: a libzmq PUSH producer, three PULL workers (libzmq,
// zmq4, libzmq) behind the Streamer binary: 3,000 tasks each arrive exactly
// once, and every worker gets a real share.
func TestSidecarStreamer(t *testing.T) {
	dev, front, back := startDeviceProc(t, "streamer", "PULL", "PUSH", nil)
	workerImpls := []impl{libzmq, gozmq4, libzmq}
	workers := make([]peer, len(workerImpls))
	for i, w := range workerImpls {
		workers[i] = w.new(t, zmtp.PULL, "")
		workers[i].connect(t, back)
	}
	producer := libzmq.new(t, zmtp.PUSH, "")
	producer.connect(t, front)
	// Every worker must be attached before the first task, or the first
	// one to connect takes them all.
	waitPeers(t, dev, 1, len(workers))

	const n = 3000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		per  = make([]int, len(workers))
		bad  []string
	)
	total := make(chan struct{}, n*2)
	var loops []<-chan struct{}
	for i, w := range workers {
		loops = append(loops, recvLoop(ctx, w, func(m [][]byte) {
			mu.Lock()
			if len(m) != 2 || string(m[0]) != "task" {
				bad = append(bad, show(m))
			} else {
				seen[string(m[1])]++
				per[i]++
			}
			mu.Unlock()
			total <- struct{}{}
		}))
	}
	for i := 0; i < n; i++ {
		if err := producer.send([]byte("task"), []byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	for i := 0; i < n; i++ {
		select {
		case <-total:
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("workers received %d of %d tasks (%v)", i, n, per)
		}
	}
	// Anything beyond n would be a duplicate: give it a moment to show.
	select {
	case <-total:
		t.Error("more messages than tasks arrived")
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	for _, l := range loops {
		<-l
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bad {
		t.Errorf("malformed task %s", b)
	}
	if len(seen) != n {
		t.Errorf("%d distinct tasks; want %d", len(seen), n)
	}
	for task, c := range seen {
		if c != 1 {
			t.Errorf("task %s delivered %d times", task, c)
		}
	}
	for i, c := range per {
		if c < n/10 {
			t.Errorf("worker %d (%s) got %d of %d tasks (%v)", i, workerImpls[i].name, c, n, per)
		}
	}
	t.Logf("tasks per worker (libzmq, zmq4, libzmq): %v", per)
	// Graceful shutdown with its peers still connected.
	dev.stop(t)
}

// TestSidecarQueue: three libzmq REQ clients, REP workers on zmq4 and
// libzmq behind the Queue binary (ROUTER/DEALER): 3 x 100 multipart
// requests each get their own reply, with the envelope intact through both
// hops, and every worker serves some.
func TestSidecarQueue(t *testing.T) {
	dev, front, back := startDeviceProc(t, "queue", "ROUTER", "DEALER", nil)
	workerImpls := []impl{gozmq4, libzmq, libzmq}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu     sync.Mutex
		served = make([]int, len(workerImpls))
	)
	var loops []<-chan struct{}
	for i, w := range workerImpls {
		rep := w.new(t, zmtp.REP, "")
		rep.connect(t, back)
		name := fmt.Sprintf("w%d-%s", i, w.name)
		serve := func(m [][]byte) {
			mu.Lock()
			served[i]++
			mu.Unlock()
			if err := rep.send(append(append(frames("re"), m...), []byte(name))...); err != nil {
				t.Errorf("%s reply: %v", name, err)
			}
		}
		if g, ok := rep.(*gozmqPeer); ok {
			// The adapter's read-ahead goroutine would call zmq4's Recv
			// again before the reply, and zmq4's REP keeps only the last
			// request's envelope: a zmq4 REP must alternate Recv and Send
			// on one goroutine. Close ends its Recv.
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					m, err := g.s.Recv()
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						time.Sleep(time.Millisecond)
						continue
					}
					serve(m.Frames)
				}
			}()
			loops = append(loops, done)
			defer func() { cancel(); g.close() }()
			continue
		}
		loops = append(loops, recvLoop(ctx, rep, serve))
	}
	const clients, requests = 3, 100
	waitPeers(t, dev, 0, len(workerImpls))
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for c := 0; c < clients; c++ {
		req := libzmq.new(t, zmtp.REQ, "")
		req.connect(t, front)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < requests; i++ {
				id, seq := fmt.Sprintf("client%d", c), fmt.Sprint(i)
				if err := req.send([]byte(id), []byte(seq), []byte("payload")); err != nil {
					errs <- fmt.Sprintf("%s send %d: %v", id, i, err)
					return
				}
				m, err := req.recv(recvWait)
				if err != nil {
					errs <- fmt.Sprintf("%s request %d: no reply: %v", id, i, err)
					return
				}
				if len(m) != 5 || string(m[0]) != "re" || string(m[1]) != id || string(m[2]) != seq || string(m[3]) != "payload" || !strings.HasPrefix(string(m[4]), "w") {
					errs <- fmt.Sprintf("%s request %d: reply %s", id, i, show(m))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	cancel()
	for _, rep := range loops {
		select {
		case <-rep:
		case <-time.After(100 * time.Millisecond): // the zmq4 worker ends at its Close
		}
	}
	mu.Lock()
	defer mu.Unlock()
	sum := 0
	for i, s := range served {
		sum += s
		if s == 0 {
			t.Errorf("worker %d (%s) served no request (%v)", i, workerImpls[i].name, served)
		}
	}
	if sum != clients*requests {
		t.Errorf("workers served %d requests; want %d", sum, clients*requests)
	}
	t.Logf("requests served per worker (zmq4, libzmq, libzmq): %v", served)
}

// newLibzmqSock returns a libzmq socket with linger 0, set up by setup and
// closed when the test ends.
func newLibzmqSock(t *testing.T, typ czmq.Type, setup func(*czmq.Socket)) *czmq.Socket {
	t.Helper()
	s, err := czmq.NewSocket(typ)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetLinger(0)
	setup(s)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// warmUp publishes warm-up messages on pub until each of subs has heard
// one (its subscription has reached the publisher), then reads what else
// they queued, so that the test counts from here. Receives wait 20 ms.
func warmUp(t *testing.T, pub *czmq.Socket, subs ...*czmq.Socket) {
	t.Helper()
	heard := make([]bool, len(subs))
	for _, s := range subs {
		_ = s.SetRcvtimeo(20 * time.Millisecond)
	}
	for i := 0; slices.Contains(heard, false); i++ {
		if i == 500 {
			t.Fatal("the subscriptions never reached the publisher")
		}
		_, _ = pub.Send("warmup", 0)
		for j, s := range subs {
			if _, err := s.Recv(0); err == nil {
				heard[j] = true
			}
		}
	}
	for _, s := range subs {
		for {
			if _, err := s.Recv(0); err != nil {
				break
			}
		}
	}
}

// TestSidecarForwarderStalledSubscriber: a libzmq subscriber that stops
// reading does not slow a libzmq subscriber that reads, and what the
// stalled one misses is counted in the device's
// zmq_device_dropped_messages_total{side="backend"}. The publisher never
// gets more than lag messages ahead of the reading subscriber, far under
// the device's high-water mark (20,000 per subscriber, from the
// configuration), so the reading one must get every message and every
// drop is the stalled one's: after draining it, received + drops = sent.
// Kernel socket buffers absorb tens of thousands of small messages before
// the stalled subscriber's queue at the device reaches its HWM.
func TestSidecarForwarderStalledSubscriber(t *testing.T) {
	const hwm, n, maxN, size, lag = 20000, 100000, 400000, 64, 5000
	dev, front, back := startDeviceProc(t, "forwarder", "XSUB", "XPUB", func(c *zmqconfig.Config) {
		h := int32(hwm)
		c.Sockets[1].Options.SndHWM = &h
	})
	fast := newLibzmqSock(t, czmq.SUB, func(s *czmq.Socket) { _ = s.SetRcvhwm(0); _ = s.SetSubscribe("") })
	slow := newLibzmqSock(t, czmq.SUB, func(s *czmq.Socket) { _ = s.SetRcvhwm(10); _ = s.SetSubscribe("") })
	pub := newLibzmqSock(t, czmq.PUB, func(s *czmq.Socket) { _ = s.SetSndhwm(0) }) // no drops before the device
	for _, c := range []struct {
		s  *czmq.Socket
		ep string
	}{{fast, back}, {slow, back}, {pub, front}} {
		if err := c.s.Connect(c.ep); err != nil {
			t.Fatal(err)
		}
	}
	waitPeers(t, dev, 1, 2)
	// Both subscriptions are in place once both subscribers hear a
	// warm-up message; then the slow one stops reading.
	warmUp(t, pub, fast, slow)

	// The reading subscriber counts until, after the last send (sendDone),
	// the stream has been idle for a second. The test waits for it before
	// the socket closes (cleanups run in reverse order), even on failure:
	// a libzmq socket is used by one thread at a time.
	var fastGot atomic.Int64
	sendDone, got := make(chan struct{}), make(chan int, 1)
	go func() {
		_ = fast.SetRcvtimeo(100 * time.Millisecond)
		idleSince := time.Now()
		for {
			m, err := fast.RecvBytes(0)
			if err == nil {
				idleSince = time.Now()
				if len(m) == size {
					fastGot.Add(1)
				}
				continue
			}
			select {
			case <-sendDone:
				if time.Since(idleSince) >= time.Second {
					got <- int(fastGot.Load())
					return
				}
			default:
			}
		}
	}()
	var stopOnce sync.Once
	stopReader := func() { stopOnce.Do(func() { close(sendDone) }) }
	t.Cleanup(func() { stopReader(); <-got })
	// Send n messages, then more in chunks (at most maxN in all) until the
	// device has dropped some: how much the kernel's socket buffers absorb
	// for the stalled subscriber depends on the machine.
	drops := func() float64 {
		return scScrape(t, dev.base).get("zmq_device_dropped_messages_total", "side", "backend")
	}
	payload := make([]byte, size)
	sent := 0
	for sent < maxN {
		chunk := n
		if sent > 0 {
			chunk = n / 2
		}
		for i := 0; i < chunk; i++ {
			if _, err := pub.SendBytes(payload, 0); err != nil {
				t.Fatal(err)
			}
			if i%1000 == 999 {
				// Hold back while the reading subscriber lags: it must
				// never reach the device's HWM, however loaded the machine.
				behind := func() bool { return int64(sent+i+1)-fastGot.Load() > lag }
				for wait := time.Now(); behind(); time.Sleep(time.Millisecond) {
					if time.Since(wait) > 10*time.Second {
						t.Fatalf("the reading subscriber is still over %d messages behind after 10s (%d of %d)", lag, fastGot.Load(), sent+i+1)
					}
				}
			}
		}
		sent += chunk
		dropping := false
		for w := 0; w < 25 && !dropping; w++ { // up to 500 ms for the device to catch up
			dropping = drops() > 0
			if !dropping {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if dropping {
			break
		}
	}
	stopReader()
	received := <-got
	got <- received // for the cleanup
	if received != sent {
		t.Errorf("the reading subscriber got %d of %d with a stalled one beside it", received, sent)
	}
	_ = slow.SetRcvtimeo(500 * time.Millisecond)
	slowGot := 0
	for {
		m, err := slow.RecvBytes(0)
		if err != nil {
			break
		}
		if len(m) == size {
			slowGot++
		}
	}
	d := drops()
	t.Logf("reading subscriber: %d of %d (%.2f%%); stalled subscriber drained afterwards: %d; device drops (backend): %.0f; received+drops = %.0f",
		received, sent, float64(received)*100/float64(sent), slowGot, d, float64(slowGot)+d)
	if slowGot >= sent || d <= 0 || float64(slowGot)+d != float64(sent) {
		t.Errorf("stalled subscriber got %d of %d but the device counted %.0f drops", slowGot, sent, d)
	}
}
