package zmtp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// ErrPeerGone is returned by Recv on a REQ socket when the peer its
// pending request went to disconnected before a reply from it arrived
// (after any replies that peer had already delivered). The request may or
// may not have been processed; the socket may send again. libzmq has no
// equivalent: its REQ waits for that reply forever.
var ErrPeerGone = errors.New("zmtp: the peer holding the request disconnected before replying")

// reqOptions are the REQ socket's settings.
type reqOptions struct {
	relaxed bool // WithReqRelaxed
}

// WithReqRelaxed makes a REQ socket relaxed and correlating, like libzmq
// with both ZMQ_REQ_RELAXED and ZMQ_REQ_CORRELATE set: Send is allowed at
// any time, even while a reply is pending (a request that timed out can be
// retried), and each request carries a request id, a 4-octet counter,
// before the empty delimiter: [id, "", body...]. Recv then returns only the
// reply to the latest request: one from the peer that request went to
// whose first two frames are that id and the empty delimiter. Replies to
// earlier requests arriving late, and anything else, are discarded and
// counted in Stats.Drops. A REP (libzmq, go-zeromq/zmq4 or ours) or a
// ROUTER application echoes the id frame as part of the envelope.
func WithReqRelaxed() Option { return func(o *options) { o.req.relaxed = true } }

// reqPattern: REQ sends a request (prefixed with an empty delimiter frame,
// and a request id when relaxed) to the next peer round-robin, then accepts
// only the reply from that peer (RFC 28).
//
// By default it is strict, like libzmq's REQ: Send while a reply is pending
// returns ErrState, also after a Recv that gave up because its context
// ended; the request stays pending and the caller must Recv again (the late
// reply then arrives). Unlike libzmq, Recv returns ErrPeerGone once the
// peer holding the request has disconnected, and the socket may then send
// again. WithReqRelaxed lifts the alternation (ZMQ_REQ_RELAXED +
// ZMQ_REQ_CORRELATE).
//
// Send and Recv hold the pattern's lock while they block, so a REQ is
// meant to be used by one goroutine at a time: a concurrent Send waits for
// a blocked Recv to return.
type reqPattern struct {
	basePattern
	s       *Socket
	relaxed bool

	mu       sync.Mutex
	awaiting bool   // a request was sent and its reply not yet received
	peer     *conn  // where the pending request went
	id       uint32 // id of the latest request (relaxed)
}

func newReqPattern(s *Socket) *reqPattern {
	p := &reqPattern{s: s, relaxed: s.opts.req.relaxed}
	// Like libzmq, start the request ids at a random value.
	var b [4]byte
	_, _ = rand.Read(b[:])
	p.id = binary.BigEndian.Uint32(b[:])
	return p
}

func (p *reqPattern) attach(c *conn) error { p.s.lb.add(c); return nil }
func (p *reqPattern) detach(c *conn)       { p.s.lb.remove(c) }

func (p *reqPattern) send(ctx context.Context, m Msg) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.awaiting && !p.relaxed {
		return fmt.Errorf("zmtp: REQ send before the previous request's reply was received: %w", ErrState)
	}
	env := make(Msg, 0, len(m)+2)
	id := p.id + 1
	if p.relaxed {
		env = append(env, binary.BigEndian.AppendUint32(nil, id))
	}
	env = append(env, []byte{})
	env = append(env, m...)
	c, err := p.s.lb.send(ctx, env)
	if err != nil {
		// Nothing was sent: a pending request stays pending.
		return err
	}
	p.awaiting, p.peer, p.id = true, c, id
	return nil
}

func (p *reqPattern) recv(ctx context.Context) (Msg, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.awaiting {
		return nil, fmt.Errorf("zmtp: REQ recv without a pending request: %w", ErrState)
	}
	for {
		// Replies the peer delivered before leaving are still queued and
		// come first; errStopped means none is left.
		c, m, err := p.s.fq.popUntil(ctx, p.peer.done)
		if err == errStopped {
			remote := p.peer.remote
			p.awaiting, p.peer = false, nil
			return nil, fmt.Errorf("zmtp: REQ peer %s: %w", remote, ErrPeerGone)
		}
		if err != nil {
			// The request stays pending: its reply may still come.
			return nil, err
		}
		if body, ok := p.reply(c, m); ok {
			p.awaiting, p.peer = false, nil
			return body, nil
		}
		p.s.stats.drops.Add(1)
	}
}

// reply returns the body of m if m is the reply to the pending request.
func (p *reqPattern) reply(c *conn, m Msg) (Msg, bool) {
	if c != p.peer {
		return nil, false
	}
	if p.relaxed {
		if len(m) < 3 || len(m[0]) != 4 || binary.BigEndian.Uint32(m[0]) != p.id || len(m[1]) != 0 {
			return nil, false
		}
		return m[2:], true
	}
	if len(m) < 2 || len(m[0]) != 0 {
		return nil, false
	}
	return m[1:], true
}
