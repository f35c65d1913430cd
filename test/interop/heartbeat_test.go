package interop

import (
	"testing"
	"time"

	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// TestLibzmqHeartbeats: libzmq with heartbeats on (PING every 100 ms,
// timeout 300 ms) stays connected to our sockets through 5 s of idle, in
// both directions, and our own heartbeats are answered by libzmq
// (acceptance 1). If we failed to answer a PING, libzmq would drop the
// connection after 300 ms and reconnect: Handshakes would exceed 1.
func TestLibzmqHeartbeats(t *testing.T) {
	cases := []struct {
		name      string
		ourBinds  bool
		ourBeats  bool
		libzmqHbs bool
	}{
		{"libzmq-pings-ours-bound", true, false, true},
		{"libzmq-pings-ours-connecting", false, false, true},
		{"ours-pings-libzmq", false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []zmtp.Option
			if tc.ourBeats {
				opts = append(opts, zmtp.WithHeartbeat(zmtp.Heartbeat{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, TTL: time.Second}))
			}
			s, err := zmtp.NewSocket(zmtp.ROUTER, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c, _ := czmq.NewSocket(czmq.DEALER)
			defer c.Close()
			_ = c.SetLinger(0)
			_ = c.SetReconnectIvl(20 * time.Millisecond)
			if tc.libzmqHbs {
				_ = c.SetHeartbeatIvl(100 * time.Millisecond)
				_ = c.SetHeartbeatTimeout(300 * time.Millisecond)
				_ = c.SetHeartbeatTtl(time.Second)
			}
			if tc.ourBinds {
				ep, _ := s.Bind("tcp://127.0.0.1:0")
				_ = c.Connect(ep)
			} else {
				_ = c.Bind("tcp://127.0.0.1:*")
				ep, _ := c.GetLastEndpoint()
				_ = s.Connect(ep)
			}
			// libzmq processes connection events on API calls; poke it
			// while waiting out the idle period.
			idleUntil := time.Now().Add(5 * time.Second)
			for time.Now().Before(idleUntil) {
				_, _ = c.RecvBytes(czmq.DONTWAIT)
				time.Sleep(50 * time.Millisecond)
			}
			st := s.Stats()
			if st.Handshakes != 1 || st.Peers != 1 {
				t.Fatalf("after 5 s idle: handshakes=%d peers=%d; want 1 and 1 (connection dropped)", st.Handshakes, st.Peers)
			}
			// The connection still carries traffic.
			_ = c.SetSndtimeo(5 * time.Second)
			if _, err := c.SendMessage("still", "here"); err != nil {
				t.Fatal(err)
			}
			p := &oursPeer{s}
			m, err := p.recv(recvWait)
			if err != nil {
				t.Fatalf("%v; stats %+v", err, s.Stats())
			}
			if len(m) != 3 || string(m[1]) != "still" {
				t.Fatalf("got %s", show(m))
			}
		})
	}
}

// TestNoPingToZMTP30Peer: go-zeromq/zmq4 speaks ZMTP 3.0 and would hand a
// PING to its application; our heartbeats must not be sent to it.
func TestNoPingToZMTP30Peer(t *testing.T) {
	pull := newGozmq(t, zmtp.PULL, "")
	ep := pull.bind(t)
	s, _ := zmtp.NewSocket(zmtp.PUSH, zmtp.WithHeartbeat(zmtp.Heartbeat{Interval: 20 * time.Millisecond}))
	defer s.Close()
	_ = s.Connect(ep)
	p := &oursPeer{s}
	if err := p.send([]byte("only")); err != nil {
		t.Fatal(err)
	}
	wantFrames(t, mustRecvFrames(t, pull), "only")
	// Ten heartbeat intervals: nothing else may reach the application.
	if m, err := pull.recv(200 * time.Millisecond); err == nil {
		t.Fatalf("zmq4 application received %s (a PING?)", show(m))
	}
}
