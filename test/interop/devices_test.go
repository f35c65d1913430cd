package interop

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// TestForwarderDevice: libzmq PUB -> [ours XSUB | Proxy | ours XPUB] ->
// libzmq SUB and go-zeromq/zmq4 SUB. Each subscriber's subscription goes
// upstream through the device; each receives only what it subscribed to
// (acceptance 2, against real peers).
func TestForwarderDevice(t *testing.T) {
	xsub, _ := zmtp.NewSocket(zmtp.XSUB)
	xpub, _ := zmtp.NewSocket(zmtp.XPUB)
	defer xsub.Close()
	defer xpub.Close()
	fe, _ := xsub.Bind("tcp://127.0.0.1:0")
	be, _ := xpub.Bind("tcp://127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go zmtp.Proxy(ctx, xsub, xpub)

	pub := newLibzmq(t, zmtp.PUB, "")
	pub.connect(t, fe)
	subC := newLibzmq(t, zmtp.SUB, "")
	subG := newGozmq(t, zmtp.SUB, "")
	subC.subscribe("c.")
	subG.subscribe("g.")
	subC.connect(t, be)
	subG.connect(t, be)

	// Wait until both subscriptions made it through the device.
	deadline := time.Now().Add(recvWait)
	for xsub.Stats().Subscriptions < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("device holds %d subscriptions, want 2", xsub.Stats().Subscriptions)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Slow joiner upstream: sync each subscriber.
	for _, s := range []struct {
		p     peer
		topic string
	}{{subC, "c."}, {subG, "g."}} {
		for {
			_ = pub.send([]byte(s.topic + "sync"))
			if _, err := s.p.recv(20 * time.Millisecond); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no traffic through the device")
			}
		}
	}
	for i := 0; i < 30; i++ {
		for _, topic := range []string{"c.", "g.", "x."} {
			if err := pub.send([]byte(topic+"data"), []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = pub.send([]byte("c.end"))
	_ = pub.send([]byte("g.end"))
	for _, s := range []struct {
		p     peer
		topic string
	}{{subC, "c."}, {subG, "g."}} {
		n := 0
		for {
			m := mustRecvFrames(t, s.p)
			if !bytes.HasPrefix(m[0], []byte(s.topic)) {
				t.Fatalf("%s subscriber got %s", s.topic, show(m))
			}
			if string(m[0]) == s.topic+"end" {
				break
			}
			if string(m[0]) == s.topic+"data" {
				wantFrames(t, m, s.topic+"data", fmt.Sprint(n))
				n++
			}
		}
		if n != 30 {
			t.Fatalf("%s subscriber got %d messages, want 30", s.topic, n)
		}
	}
	// x. was never subscribed: filtered upstream by libzmq's PUB.
	if st := xsub.Stats(); st.MsgsIn > 62+10 {
		t.Fatalf("device received %d messages; unsubscribed traffic was not filtered upstream", st.MsgsIn)
	}
}

// TestQueueDevice: libzmq REQ -> [ours ROUTER | Proxy | ours DEALER] ->
// libzmq REP and REP of ours: envelopes survive both hops (acceptance 2).
func TestQueueDevice(t *testing.T) {
	router, _ := zmtp.NewSocket(zmtp.ROUTER)
	dealer, _ := zmtp.NewSocket(zmtp.DEALER)
	defer router.Close()
	defer dealer.Close()
	fe, _ := router.Bind("tcp://127.0.0.1:0")
	be, _ := dealer.Bind("tcp://127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go zmtp.Proxy(ctx, router, dealer)

	for _, worker := range []impl{libzmq, ours} {
		t.Run("worker="+worker.name, func(t *testing.T) {
			// The previous subtest's worker must be gone from the DEALER:
			// a request routed to a peer that is disconnecting is lost, as
			// in libzmq.
			deadline := time.Now().Add(5 * time.Second)
			for dealer.Stats().Peers != 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			rep := worker.new(t, zmtp.REP, "")
			rep.connect(t, be)
			done := make(chan struct{})
			defer close(done)
			go func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					m, err := rep.recv(50 * time.Millisecond)
					if err != nil {
						continue
					}
					_ = rep.send(append(frames("done"), m...)...)
				}
			}()
			for _, client := range []impl{libzmq, gozmq4} {
				req := client.new(t, zmtp.REQ, "")
				req.connect(t, fe)
				for i := 0; i < 20; i++ {
					sendRetry(t, req, frames("job", fmt.Sprint(i))...)
					wantFrames(t, mustRecvFrames(t, req), "done", "job", fmt.Sprint(i))
				}
				req.close()
			}
		})
	}
}
