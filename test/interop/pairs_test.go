package interop

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

const recvWait = 5 * time.Second

// scenario exercises one compatible socket pair; a and b are the two ends.
type scenario struct {
	a, b zmtp.SocketType
	run  func(t *testing.T, a, b peer)
}

var scenarios = []scenario{
	{zmtp.PUSH, zmtp.PULL, runPipeline},
	{zmtp.PUB, zmtp.SUB, runPubSub},
	{zmtp.PUB, zmtp.XSUB, runPubSub},
	{zmtp.XPUB, zmtp.SUB, runPubSub},
	{zmtp.XPUB, zmtp.XSUB, runPubSub},
	{zmtp.REQ, zmtp.REP, runReqRep},
	{zmtp.REQ, zmtp.ROUTER, runReqRep},
	{zmtp.DEALER, zmtp.REP, runReqRep},
	{zmtp.DEALER, zmtp.ROUTER, runReqRep},
	{zmtp.DEALER, zmtp.DEALER, runReqRep},
	{zmtp.ROUTER, zmtp.ROUTER, runReqRep},
	{zmtp.PAIR, zmtp.PAIR, runReqRep},
}

// gozmqBroken lists pairs go-zeromq/zmq4 v0.17.0 gets wrong (see
// ZMQ-NOTES.md); they are skipped with the reason, not hidden.
var gozmqBroken = map[string]string{}

// TestSocketPairs runs every compatible pair, both bind/connect
// directions, ours <-> libzmq and ours <-> go-zeromq/zmq4, with multipart
// messages (acceptance 1).
func TestSocketPairs(t *testing.T) {
	for _, sc := range scenarios {
		for _, other := range []impl{libzmq, gozmq4} {
			for _, oursIsA := range []bool{true, false} {
				for _, aBinds := range []bool{true, false} {
					ia, ib := ours, other
					if !oursIsA {
						ia, ib = other, ours
					}
					binder := "a-binds"
					if !aBinds {
						binder = "b-binds"
					}
					name := fmt.Sprintf("%s(%s)-%s(%s)/%s", sc.a, ia.name, sc.b, ib.name, binder)
					t.Run(name, func(t *testing.T) {
						if other.name == gozmq4.name {
							if why, ok := gozmqBroken[fmt.Sprintf("%s-%s/%s/%s", sc.a, sc.b, ia.name, binder)]; ok {
								t.Skip("go-zeromq/zmq4 bug: " + why)
							}
						}
						a := ia.new(t, sc.a, "A")
						b := ib.new(t, sc.b, "B")
						if aBinds {
							b.connect(t, a.bind(t))
						} else {
							a.connect(t, b.bind(t))
						}
						sc.run(t, a, b)
					})
				}
			}
		}
	}
}

// sendRetry retries a send until it succeeds (go-zeromq/zmq4 fails sends
// while no peer is connected).
func sendRetry(t *testing.T, p peer, f ...[]byte) {
	t.Helper()
	deadline := time.Now().Add(recvWait)
	for {
		err := p.send(f...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("send: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustRecvFrames(t *testing.T, p peer) [][]byte {
	t.Helper()
	m, err := p.recv(recvWait)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return m
}

func wantFrames(t *testing.T, got [][]byte, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %s; want %q", show(got), want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Fatalf("got %s; want %q", show(got), want)
		}
	}
}

func runPipeline(t *testing.T, push, pull peer) {
	const n = 200
	for i := 0; i < n; i++ {
		sendRetry(t, push, frames("key", fmt.Sprint("value-", i), "")...)
	}
	for i := 0; i < n; i++ {
		wantFrames(t, mustRecvFrames(t, pull), "key", fmt.Sprint("value-", i), "")
	}
}

// runPubSub checks subscription filtering end to end: only "a." messages
// reach the subscriber, multipart and in order; an XPUB also sees the
// subscription.
func runPubSub(t *testing.T, pub, sub peer) {
	sub.subscribe("a.")
	// Slow joiner: publish a sync message until the subscription is in
	// place.
	deadline := time.Now().Add(recvWait)
	for {
		if err := pub.send(frames("a.sync")...); err != nil {
			t.Fatal(err)
		}
		if m, err := sub.recv(20 * time.Millisecond); err == nil {
			wantFrames(t, m, "a.sync")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("subscription never took effect")
		}
	}
	if typeOf(pub) == zmtp.XPUB {
		// The XPUB application sees the subscription it filters on.
		if _, isGo := pub.(*gozmqPeer); isGo {
			// Measured: it times out; not checked to keep the suite fast.
			t.Logf("skipping subscription check: go-zeromq/zmq4 XPUB does not deliver subscriptions (zmq4 #108/#136)")
		} else if m, err := pub.recv(recvWait); err != nil {
			t.Fatalf("XPUB did not deliver the subscription: %v", err)
		} else {
			wantFrames(t, m, "\x01a.")
		}
	}
	for i := 0; i < 50; i++ {
		if err := pub.send(frames("b.noise", fmt.Sprint(i))...); err != nil {
			t.Fatal(err)
		}
		if err := pub.send(frames("a.data", fmt.Sprint(i))...); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.send(frames("a.end")...); err != nil {
		t.Fatal(err)
	}
	next := 0
	for {
		m := mustRecvFrames(t, sub)
		if !bytes.HasPrefix(m[0], []byte("a.")) {
			t.Fatalf("unsubscribed message delivered: %s", show(m))
		}
		switch string(m[0]) {
		case "a.sync":
			continue
		case "a.end":
			if next != 50 {
				t.Fatalf("got %d data messages, want 50", next)
			}
			return
		}
		wantFrames(t, m, "a.data", fmt.Sprint(next))
		next++
	}
}

// runReqRep does ten request/reply round trips with multipart bodies,
// checking the envelope each socket type must add or strip.
func runReqRep(t *testing.T, a, b peer) {
	at, bt := typeOf(a), typeOf(b)
	for i := 0; i < 10; i++ {
		body := frames("q", fmt.Sprint(i))
		switch {
		case at == zmtp.DEALER && bt == zmtp.REP:
			sendRetry(t, a, append(frames(""), body...)...)
		case at == zmtp.ROUTER:
			// ROUTER-ROUTER: address the peer by its Identity; messages
			// sent before the handshake are unroutable and dropped, so
			// retry the first one.
			if i == 0 {
				deadline := time.Now().Add(recvWait)
				for {
					sendRetry(t, a, append(frames("B"), body...)...)
					m, err := b.recv(50 * time.Millisecond)
					if err == nil {
						wantFrames(t, m, "A", "q", "0")
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("ROUTER never routed to its peer")
					}
				}
				goto reply
			}
			sendRetry(t, a, append(frames("B"), body...)...)
		default:
			sendRetry(t, a, body...)
		}
		{
			m := mustRecvFrames(t, b)
			switch {
			case bt == zmtp.ROUTER && at == zmtp.REQ:
				wantFrames(t, m, "A", "", "q", fmt.Sprint(i))
			case bt == zmtp.ROUTER && at == zmtp.DEALER:
				wantFrames(t, m, "A", "q", fmt.Sprint(i))
			case bt == zmtp.ROUTER:
				wantFrames(t, m, "A", "q", fmt.Sprint(i))
			default:
				wantFrames(t, m, "q", fmt.Sprint(i))
			}
		}
	reply:
		switch {
		case bt == zmtp.ROUTER && at == zmtp.REQ:
			sendRetry(t, b, frames("A", "", "r", fmt.Sprint(i))...)
		case bt == zmtp.ROUTER:
			sendRetry(t, b, frames("A", "r", fmt.Sprint(i))...)
		default:
			sendRetry(t, b, frames("r", fmt.Sprint(i))...)
		}
		m := mustRecvFrames(t, a)
		switch {
		case at == zmtp.DEALER && bt == zmtp.REP:
			wantFrames(t, m, "", "r", fmt.Sprint(i))
		case at == zmtp.ROUTER:
			wantFrames(t, m, "B", "r", fmt.Sprint(i))
		default:
			wantFrames(t, m, "r", fmt.Sprint(i))
		}
	}
}

func typeOf(p peer) zmtp.SocketType {
	switch p := p.(type) {
	case *oursPeer:
		return p.s.Type()
	case *libzmqPeer:
		return p.typ
	case *gozmqPeer:
		return p.typ
	}
	return 0
}
