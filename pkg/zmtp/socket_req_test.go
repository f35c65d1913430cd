package zmtp

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// slowRep answers each request [body] with ["reply:"+body] after delay,
// until ctx ends.
func slowRep(ctx context.Context, rep *Socket, delay time.Duration) {
	for {
		m, err := rep.Recv(ctx)
		if err != nil {
			return
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		if rep.Send(ctx, NewMsgString("reply:"+string(m[0]))) != nil {
			return
		}
	}
}

func recvWithin(s *Socket, ctx context.Context, d time.Duration) (Msg, error) {
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return s.Recv(rctx)
}

func wantBody(t *testing.T, m Msg, err error, want string) {
	t.Helper()
	if err != nil {
		t.Fatalf("Recv: %v, want %q", err, want)
	}
	if len(m) != 1 || string(m[0]) != want {
		t.Fatalf("Recv: %q, want [%q]", m, want)
	}
}

// TestReqLateReply: a REP answers after 700 ms; the REQ gives up waiting
// after 300 ms and wants to ask again. Strict (the default, like libzmq):
// the second Send is refused with ErrState until the late reply has been
// received, so replies never shift by one. Relaxed (ZMQ_REQ_RELAXED +
// ZMQ_REQ_CORRELATE): the second Send goes out and Recv returns its reply,
// discarding the late reply to the first request.
func TestReqLateReply(t *testing.T) {
	t.Run("strict", func(t *testing.T) {
		ctx := testCtx(t)
		rep := newSock(t, REP)
		req := newSock(t, REQ)
		connect(t, req, bind(t, rep))
		go slowRep(ctx, rep, 700*time.Millisecond)

		if err := req.Send(ctx, NewMsgString("r1")); err != nil {
			t.Fatal(err)
		}
		if _, err := recvWithin(req, ctx, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("first Recv: %v, want the deadline", err)
		}
		if err := req.Send(ctx, NewMsgString("r2")); !errors.Is(err, ErrState) {
			t.Fatalf("Send with a reply pending: %v, want ErrState", err)
		}
		m, err := req.Recv(ctx)
		wantBody(t, m, err, "reply:r1")
		if err := req.Send(ctx, NewMsgString("r2")); err != nil {
			t.Fatal(err)
		}
		m, err = req.Recv(ctx)
		wantBody(t, m, err, "reply:r2")
		if _, err := recvWithin(req, ctx, 10*time.Millisecond); !errors.Is(err, ErrState) {
			t.Fatalf("Recv with no request pending: %v, want ErrState", err)
		}
	})
	t.Run("relaxed", func(t *testing.T) {
		ctx := testCtx(t)
		rep := newSock(t, REP)
		req := newSock(t, REQ, WithReqRelaxed())
		connect(t, req, bind(t, rep))
		go slowRep(ctx, rep, 700*time.Millisecond)

		if err := req.Send(ctx, NewMsgString("r1")); err != nil {
			t.Fatal(err)
		}
		if _, err := recvWithin(req, ctx, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("first Recv: %v, want the deadline", err)
		}
		if err := req.Send(ctx, NewMsgString("r2")); err != nil {
			t.Fatalf("relaxed Send with a reply pending: %v", err)
		}
		m, err := req.Recv(ctx)
		wantBody(t, m, err, "reply:r2")
		if d := req.Stats().Drops; d != 1 {
			t.Fatalf("Drops = %d, want 1 (the late reply:r1)", d)
		}
		if _, err := recvWithin(req, ctx, 10*time.Millisecond); !errors.Is(err, ErrState) {
			t.Fatalf("Recv with no request pending: %v, want ErrState", err)
		}
	})
}

// TestReqPeerGone: the REP holding a request disconnects without replying.
// Recv returns ErrPeerGone instead of waiting forever (libzmq would), and
// the socket can send again; a reply the peer delivered before leaving is
// still returned first.
func TestReqPeerGone(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []Option
	}{{"strict", nil}, {"relaxed", []Option{WithReqRelaxed()}}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := testCtx(t)
			req := newSock(t, REQ, append(mode.opts, WithReconnectInterval(20*time.Millisecond, 20*time.Millisecond))...)

			// A REP that takes the request and goes away unanswered.
			gone := newSock(t, REP)
			connect(t, req, bind(t, gone))
			if err := req.Send(ctx, NewMsgString("q1")); err != nil {
				t.Fatal(err)
			}
			mustRecv(t, ctx, gone)
			start := time.Now()
			gone.Close()
			_, err := recvWithin(req, ctx, 5*time.Second)
			if !errors.Is(err, ErrPeerGone) {
				t.Fatalf("Recv after the peer left: %v, want ErrPeerGone", err)
			}
			t.Logf("ErrPeerGone %v after the REP closed", time.Since(start))

			// A REP that answers, then goes away before we read the reply.
			answers := newSock(t, REP)
			connect(t, req, bind(t, answers))
			if err := req.Send(ctx, NewMsgString("q2")); err != nil {
				t.Fatalf("Send after ErrPeerGone: %v", err)
			}
			m := mustRecv(t, ctx, answers)
			if err := answers.Send(ctx, NewMsgString("reply:"+string(m[0]))); err != nil {
				t.Fatal(err)
			}
			answers.Close()
			for req.Stats().Peers != 0 {
				if ctx.Err() != nil {
					t.Fatal("the REQ never saw the REP leave")
				}
				time.Sleep(time.Millisecond)
			}
			m, err = req.Recv(ctx)
			wantBody(t, m, err, "reply:q2")
		})
	}
}

// TestPipeReqRelaxedWire: a relaxed REQ sends [id, "", body] with a 4-octet
// id that grows by one per request, and takes as the reply only the one
// echoing the latest id.
func TestPipeReqRelaxedWire(t *testing.T) {
	ctx := testCtx(t)
	req := newSock(t, REQ, WithReqRelaxed())
	p := attachPipe(t, req, REP)
	p.wantGreeting()
	p.wantCommand(cmdReady)
	readRequest := func(body string) []byte {
		t.Helper()
		id := p.wantFrame()
		delim := p.wantFrame()
		b := p.wantFrame()
		if id.flags != flagMore || len(id.body) != 4 || delim.flags != flagMore || len(delim.body) != 0 || b.flags != 0 || string(b.body) != body {
			t.Fatalf("request frames %x %q, %x %q, %x %q", id.flags, id.body, delim.flags, delim.body, b.flags, b.body)
		}
		return id.body
	}
	_ = req.Send(ctx, NewMsgString("a"))
	id1 := readRequest("a")
	_ = req.Send(ctx, NewMsgString("b"))
	id2 := readRequest("b")
	if binary.BigEndian.Uint32(id2) != binary.BigEndian.Uint32(id1)+1 {
		t.Fatalf("ids %x then %x, want consecutive", id1, id2)
	}
	reply := func(id []byte, body string) []byte {
		return appendFrame(appendFrame(appendFrame(nil, flagMore, id), flagMore, nil), 0, []byte(body))
	}
	p.write(reply(id1, "to a"))
	p.write(appendFrame(appendFrame(nil, flagMore, nil), 0, []byte("no id")))
	p.write(reply(id2, "to b"))
	m, err := req.Recv(ctx)
	wantBody(t, m, err, "to b")
	if d := req.Stats().Drops; d != 2 {
		t.Fatalf("Drops = %d, want 2", d)
	}
}
