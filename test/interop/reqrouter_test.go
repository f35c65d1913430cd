package interop

import (
	"context"
	"errors"
	"testing"
	"time"

	gozmq "github.com/go-zeromq/zmq4"
	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// The REP side of these tests answers after replyDelay; the REQ side gives
// up on a reply after giveUp and asks again.
const (
	replyDelay = 700 * time.Millisecond
	giveUp     = 300 * time.Millisecond
)

// lateReplier answers each request with "reply:"+body after replyDelay,
// until the test ends. A REP restores the envelope itself; a ROUTER
// application echoes every frame up to and including the empty delimiter
// (the REQ's routing id, request id and delimiter), as RFC 28 asks.
func lateReplier(t *testing.T, p peer, typ zmtp.SocketType) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			m, err := p.recv(50 * time.Millisecond)
			if err != nil {
				continue
			}
			var reply [][]byte
			if typ == zmtp.ROUTER {
				i := 0
				for i < len(m) && len(m[i]) != 0 {
					i++
				}
				if i+1 >= len(m) {
					t.Errorf("ROUTER application got %s: no envelope", show(m))
					return
				}
				reply = append(reply, m[:i+1]...)
				m = m[i+1:]
			}
			select {
			case <-done:
				return
			case <-time.After(replyDelay):
			}
			_ = p.send(append(reply, []byte("reply:"+string(m[0])))...)
		}
	}()
}

// gozmqLateRep is lateReplier for a go-zeromq/zmq4 REP, driven directly:
// a zmq4 REP keeps only the envelope of the last request read, so it must
// alternate Recv and Send on one goroutine (the peer wrapper reads ahead).
func gozmqLateRep(t *testing.T, s gozmq.Socket) {
	go func() {
		for {
			m, err := s.Recv()
			if err != nil {
				return // closed at cleanup
			}
			time.Sleep(replyDelay)
			if s.Send(gozmq.NewMsgString("reply:"+string(m.Frames[0]))) != nil {
				return
			}
		}
	}()
}

// TestReqRelaxedLateReplies: our REQ with WithReqRelaxed (ZMQ_REQ_RELAXED +
// ZMQ_REQ_CORRELATE) against a libzmq REP, a libzmq ROUTER application and
// a go-zeromq/zmq4 REP that answer after 700 ms: the REQ gives up on r1
// after 300 ms, sends r2 and receives reply:r2; the late reply:r1, which
// every one of them sends back with r1's request id, is discarded.
func TestReqRelaxedLateReplies(t *testing.T) {
	for _, srv := range []struct {
		name string
		typ  zmtp.SocketType
		impl impl
	}{
		{"libzmq-REP", zmtp.REP, libzmq},
		{"libzmq-ROUTER", zmtp.ROUTER, libzmq},
		{"gozmq4-REP", zmtp.REP, gozmq4},
	} {
		t.Run(srv.name, func(t *testing.T) {
			p := srv.impl.new(t, srv.typ, "")
			ep := p.bind(t)
			if g, ok := p.(*gozmqPeer); ok {
				gozmqLateRep(t, g.s)
			} else {
				lateReplier(t, p, srv.typ)
			}
			req, err := zmtp.NewSocket(zmtp.REQ, zmtp.WithReqRelaxed(), zmtp.WithLinger(0))
			if err != nil {
				t.Fatal(err)
			}
			defer req.Close()
			if err := req.Connect(ep); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()

			if err := req.Send(ctx, zmtp.NewMsgString("r1")); err != nil {
				t.Fatal(err)
			}
			rctx, rcancel := context.WithTimeout(ctx, giveUp)
			_, err = req.Recv(rctx)
			rcancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Recv of r1's reply: %v, want the deadline", err)
			}
			if err := req.Send(ctx, zmtp.NewMsgString("r2")); err != nil {
				t.Fatalf("relaxed Send with a reply pending: %v", err)
			}
			start := time.Now()
			m, err := req.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantFrames(t, m, "reply:r2")
			if d := req.Stats().Drops; d != 1 {
				t.Fatalf("Drops = %d, want 1 (reply:r1)", d)
			}
			t.Logf("reply:r2 after %v; reply:r1 discarded", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestLibzmqReqCorrelateOurRep: a libzmq REQ with ZMQ_REQ_RELAXED and
// ZMQ_REQ_CORRELATE against our REP, which answers after 700 ms: libzmq
// gives up on r1, sends r2 and receives reply:r2, which it accepts only
// because our REP echoed the request-id frame of each request.
func TestLibzmqReqCorrelateOurRep(t *testing.T) {
	rep, err := zmtp.NewSocket(zmtp.REP, zmtp.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	ep, err := rep.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	go func() {
		for {
			m, err := rep.Recv(ctx)
			if err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(replyDelay):
			}
			_ = rep.Send(ctx, zmtp.NewMsgString("reply:"+string(m[0])))
		}
	}()

	req, err := czmq.NewSocket(czmq.REQ)
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	_ = req.SetLinger(0)
	if err := req.SetReqRelaxed(1); err != nil {
		t.Fatal(err)
	}
	if err := req.SetReqCorrelate(1); err != nil {
		t.Fatal(err)
	}
	if err := req.Connect(ep); err != nil {
		t.Fatal(err)
	}
	_ = req.SetSndtimeo(5 * time.Second)
	if _, err := req.Send("r1", 0); err != nil {
		t.Fatal(err)
	}
	_ = req.SetRcvtimeo(giveUp)
	if m, err := req.RecvMessage(0); czmq.AsErrno(err) != czmq.Errno(11) { // EAGAIN
		t.Fatalf("libzmq Recv of r1's reply: %q, %v; want EAGAIN", m, err)
	}
	if _, err := req.Send("r2", 0); err != nil {
		t.Fatalf("libzmq relaxed Send: %v", err)
	}
	_ = req.SetRcvtimeo(5 * time.Second)
	m, err := req.RecvMessage(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || m[0] != "reply:r2" {
		t.Fatalf("libzmq REQ got %q, want [reply:r2]", m)
	}
}

// TestRouterIdentityReuseLibzmq: libzmq DEALERs with identity w1 against
// our ROUTER. Default: B is refused while A holds w1 and gets it on a
// reconnect once A has closed, so [w1, x] reaches B. WithRouterHandover
// (ZMQ_ROUTER_HANDOVER): B takes w1 at once while A is still connected.
func TestRouterIdentityReuseLibzmq(t *testing.T) {
	newRouter := func(t *testing.T, opts ...zmtp.Option) (*zmtp.Socket, string) {
		r, err := zmtp.NewSocket(zmtp.ROUTER, append(opts, zmtp.WithLinger(0))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		ep, err := r.Bind("tcp://127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return r, ep
	}
	routerRecv := func(t *testing.T, r *zmtp.Socket, want ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), recvWait)
		defer cancel()
		m, err := r.Recv(ctx)
		if err != nil {
			t.Fatalf("ROUTER recv: %v", err)
		}
		wantFrames(t, m, want...)
	}
	routerSend := func(r *zmtp.Socket, f ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), recvWait)
		defer cancel()
		return r.Send(ctx, zmtp.NewMsgString(f...))
	}

	t.Run("default", func(t *testing.T) {
		router, ep := newRouter(t)
		a := libzmq.new(t, zmtp.DEALER, "w1")
		a.connect(t, ep)
		sendRetry(t, a, frames("from a")...)
		routerRecv(t, router, "w1", "from a")
		b := libzmq.new(t, zmtp.DEALER, "w1") // reconnect interval 50 ms
		b.connect(t, ep)
		deadline := time.Now().Add(recvWait)
		for router.Stats().Handshakes < 2 {
			if time.Now().After(deadline) {
				t.Fatal("B never connected")
			}
			time.Sleep(time.Millisecond)
		}
		_ = routerSend(router, "w1", "for a")
		wantFrames(t, mustRecvFrames(t, a), "for a")

		a.close()
		start := time.Now()
		for {
			_ = routerSend(router, "w1", "x")
			if m, err := b.recv(50 * time.Millisecond); err == nil {
				wantFrames(t, m, "x")
				break
			}
			if time.Since(start) > recvWait {
				t.Fatalf("[w1, x] never reached B (%d dropped)", router.Stats().Drops)
			}
		}
		t.Logf("B got w1 %v after A closed (libzmq reconnect interval 50 ms)", time.Since(start).Round(time.Millisecond))
		sendRetry(t, b, frames("from b")...)
		routerRecv(t, router, "w1", "from b")
	})

	t.Run("handover", func(t *testing.T) {
		router, ep := newRouter(t, zmtp.WithRouterHandover())
		a := libzmq.new(t, zmtp.DEALER, "w1")
		// A must not reconnect and take w1 back during the test.
		_ = a.(*libzmqPeer).s.SetReconnectIvl(time.Minute)
		a.connect(t, ep)
		sendRetry(t, a, frames("from a")...)
		routerRecv(t, router, "w1", "from a")
		b := libzmq.new(t, zmtp.DEALER, "w1")
		b.connect(t, ep)
		sendRetry(t, b, frames("from b")...)
		routerRecv(t, router, "w1", "from b")
		if err := routerSend(router, "w1", "x"); err != nil {
			t.Fatal(err)
		}
		wantFrames(t, mustRecvFrames(t, b), "x")
		if m, err := a.recv(200 * time.Millisecond); err == nil {
			t.Fatalf("A got %s after w1 was handed over", show(m))
		}
	})
}

// TestRouterMandatoryLibzmq: the same sends through our ROUTER with
// WithRouterMandatory and a libzmq ROUTER with ZMQ_ROUTER_MANDATORY, side
// by side: to an unknown routing id, ours returns ErrHostUnreachable where
// libzmq returns EHOSTUNREACH; to a known peer that stopped reading
// (SNDHWM 1, the peer's RCVHWM 1), both block, ours until ctx ends, libzmq
// until its send timeout (EAGAIN); neither drops.
func TestRouterMandatoryLibzmq(t *testing.T) {
	ours, err := zmtp.NewSocket(zmtp.ROUTER, zmtp.WithRouterMandatory(), zmtp.WithSendHWM(1), zmtp.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	oursEP, err := ours.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := czmq.NewSocket(czmq.ROUTER)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	_ = theirs.SetLinger(0)
	_ = theirs.SetSndhwm(1)
	if err := theirs.SetRouterMandatory(1); err != nil {
		t.Fatal(err)
	}
	if err := theirs.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	theirsEP, _ := theirs.GetLastEndpoint()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	oursSend := func(d time.Duration, f ...[]byte) error {
		sctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return ours.Send(sctx, zmtp.NewMsg(f...))
	}
	theirsSend := func(d time.Duration, f ...[]byte) error {
		_ = theirs.SetSndtimeo(d)
		parts := make([]interface{}, len(f))
		for i, b := range f {
			parts[i] = b
		}
		_, err := theirs.SendMessage(parts...)
		return err
	}

	// Unknown routing id.
	errOurs := oursSend(time.Second, []byte("nobody"), []byte("x"))
	errTheirs := theirsSend(time.Second, []byte("nobody"), []byte("x"))
	t.Logf("send to an unknown id: ours %v; libzmq %v", errOurs, errTheirs)
	if !errors.Is(errOurs, zmtp.ErrHostUnreachable) {
		t.Errorf("ours: %v, want ErrHostUnreachable", errOurs)
	}
	if czmq.AsErrno(errTheirs) != czmq.EHOSTUNREACH {
		t.Errorf("libzmq: %v, want EHOSTUNREACH", errTheirs)
	}

	// A known peer that does not read: a libzmq DEALER "slow" on each.
	payload := make([]byte, 1<<20)
	for _, side := range []struct {
		name string
		ep   string
		send func(time.Duration, ...[]byte) error
		recv func() ([][]byte, error)
		// blocked reports whether err is that side's "still full at the
		// deadline".
		blocked func(error) bool
	}{
		{"ours", oursEP, oursSend, func() ([][]byte, error) {
			rctx, cancel := context.WithTimeout(ctx, recvWait)
			defer cancel()
			return ours.Recv(rctx)
		}, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"libzmq", theirsEP, theirsSend, func() ([][]byte, error) {
			_ = theirs.SetRcvtimeo(recvWait)
			return theirs.RecvMessageBytes(0)
		}, func(err error) bool { return czmq.AsErrno(err) == czmq.Errno(11) }},
	} {
		slow, err := czmq.NewSocket(czmq.DEALER)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		_ = slow.SetLinger(0)
		_ = slow.SetRcvhwm(1)
		_ = slow.SetIdentity("slow")
		if err := slow.Connect(side.ep); err != nil {
			t.Fatal(err)
		}
		if _, err := slow.Send("hi", 0); err != nil {
			t.Fatal(err)
		}
		if m, err := side.recv(); err != nil || len(m) != 2 || string(m[0]) != "slow" {
			t.Fatalf("%s ROUTER: %s, %v; want [slow hi]", side.name, show(m), err)
		}
		n := 0
		for ; ; n++ {
			err := side.send(200*time.Millisecond, []byte("slow"), payload)
			if side.blocked(err) {
				break
			}
			if err != nil {
				t.Fatalf("%s: send %d: %v", side.name, n, err)
			}
			if n > 500 {
				t.Fatalf("%s: a send to the full peer never blocked", side.name)
			}
		}
		t.Logf("%s: the send to the full peer blocked after %d x 1 MiB", side.name, n)
		if d := ours.Stats().Drops; d != 0 {
			t.Fatalf("our ROUTER dropped %d messages", d)
		}
	}
}
