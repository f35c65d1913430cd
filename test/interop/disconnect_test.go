package interop

import (
	"fmt"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// disconnector is a peer that can undo one of its connects: our
// Socket.Disconnect or libzmq's zmq_disconnect.
type disconnector interface {
	peer
	disconnect(ep string) error
}

func (p *oursPeer) disconnect(ep string) error { return p.s.Disconnect(ep) }

func (p *libzmqPeer) disconnect(ep string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.s.Disconnect(ep)
}

// TestDisconnectLikeLibzmq runs the same disconnect scenario with our
// socket and with a libzmq socket as the connecting side, against libzmq
// binders A and B, and expects the same outcome from both: after
// disconnecting A, nothing of A's reaches the application (for a
// receiving type, not even what A sent before the disconnect and was
// still unread), everything B sends does, and A is not reconnected.
func TestDisconnectLikeLibzmq(t *testing.T) {
	cases := []struct {
		connecting, bound zmtp.SocketType
	}{
		{zmtp.PULL, zmtp.PUSH},
		{zmtp.SUB, zmtp.PUB},
		{zmtp.DEALER, zmtp.ROUTER},
		{zmtp.PUSH, zmtp.PULL},
		{zmtp.PUB, zmtp.SUB},
	}
	for _, tc := range cases {
		for _, side := range []impl{ours, libzmq} {
			t.Run(fmt.Sprintf("%s %s", side.name, tc.connecting), func(t *testing.T) {
				c := side.new(t, tc.connecting, "").(disconnector)
				a, b := libzmq.new(t, tc.bound, ""), libzmq.new(t, tc.bound, "")
				epA, epB := a.bind(t), b.bind(t)
				for _, p := range []peer{c, a, b} {
					if typeOf(p) == zmtp.SUB {
						p.subscribe("")
					}
				}
				c.connect(t, epA)
				c.connect(t, epB)
				if zmtp.CanRecv(tc.connecting) {
					runDisconnectReceiver(t, c, a, b, epA, tc.bound)
				} else {
					runDisconnectSender(t, c, a, b, epA)
				}
			})
		}
	}
}

// runDisconnectReceiver: A and B each send; once the connector has heard
// both (so A's messages sit unread in its queue), it disconnects A; then
// only B's messages come out.
func runDisconnectReceiver(t *testing.T, c disconnector, a, b peer, epA string, bound zmtp.SocketType) {
	if bound == zmtp.ROUTER {
		// The DEALER greets until each router has its routing id; each
		// router then sends to that id.
		ids := map[peer][]byte{}
		deadline := time.Now().Add(recvWait)
		for ids[a] == nil || ids[b] == nil {
			if time.Now().After(deadline) {
				t.Fatal("a router never heard the DEALER")
			}
			sendRetry(t, c, frames("hello")...)
			for _, r := range []peer{a, b} {
				if m, err := r.recv(30 * time.Millisecond); err == nil {
					ids[r] = m[0]
				}
			}
		}
		for i := 0; i < 5; i++ {
			for r, name := range map[peer]string{a: "a", b: "b"} {
				if err := r.send(ids[r], []byte(name), []byte(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
		}
	} else {
		waitHeard(t, c, a, b)
		for i := 0; i < 5; i++ {
			for p, name := range map[peer]string{a: "a", b: "b"} {
				if err := p.send(frames(name, fmt.Sprint(i))...); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// Let both reach the connector's queue unread.
	time.Sleep(200 * time.Millisecond)
	if err := c.disconnect(epA); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		wantFrames(t, mustRecvFrames(t, c), "b", fmt.Sprint(i))
	}
	if m, err := c.recv(200 * time.Millisecond); err == nil {
		t.Fatalf("after disconnecting A, received %s", show(m))
	}
}

// waitHeard sends "sync" from both binders until the connector heard each
// once, then drains.
func waitHeard(t *testing.T, c, a, b peer) {
	heard := map[string]bool{}
	deadline := time.Now().Add(recvWait)
	for !(heard["a"] && heard["b"]) {
		if time.Now().After(deadline) {
			t.Fatalf("links never came up: heard %v", heard)
		}
		for name, p := range map[string]peer{"a": a, "b": b} {
			if !heard[name] {
				if err := p.send(frames(name, "sync")...); err != nil {
					t.Fatal(err)
				}
			}
		}
		for {
			m, err := c.recv(30 * time.Millisecond)
			if err != nil {
				break
			}
			heard[string(m[0])] = true
		}
	}
	for {
		if _, err := c.recv(50 * time.Millisecond); err != nil {
			return
		}
	}
}

// runDisconnectSender: after disconnecting A, everything the connector
// sends reaches B and nothing reaches A.
func runDisconnectSender(t *testing.T, c disconnector, a, b peer, epA string) {
	// Until both links are up (and subscribed), probe.
	deadline := time.Now().Add(recvWait)
	gotA, gotB := false, false
	for !(gotA && gotB) {
		if time.Now().After(deadline) {
			t.Fatalf("links never came up: a %v b %v", gotA, gotB)
		}
		sendRetry(t, c, frames("sync")...)
		if _, err := a.recv(30 * time.Millisecond); err == nil {
			gotA = true
		}
		if _, err := b.recv(30 * time.Millisecond); err == nil {
			gotB = true
		}
	}
	for _, p := range []peer{a, b} {
		for {
			if _, err := p.recv(50 * time.Millisecond); err != nil {
				break
			}
		}
	}
	if err := c.disconnect(epA); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // libzmq disconnects asynchronously
	for i := 0; i < 20; i++ {
		sendRetry(t, c, frames("m", fmt.Sprint(i))...)
	}
	for i := 0; i < 20; i++ {
		wantFrames(t, mustRecvFrames(t, b), "m", fmt.Sprint(i))
	}
	if m, err := a.recv(300 * time.Millisecond); err == nil {
		t.Fatalf("A received %s after the disconnect", show(m))
	}
}
