package zmtp

import (
	"fmt"
	"slices"
)

// Disconnect stops connecting to endpoint, as libzmq's zmq_disconnect: the
// socket stops reconnecting to it and closes its connection, while every
// other endpoint, bound or connected, carries on. endpoint must be given
// exactly as to Connect; every Connect of it is undone. It returns
// ErrNotConnected (wrapped) if the socket has no such Connect, and
// ErrClosed after Close.
//
// Queued messages of that connection follow zmq_disconnect's contract:
//   - received but not yet taken by Recv: discarded;
//   - sent but not yet written: no new message is routed to the
//     connection, and those already queued on it are written for up to the
//     linger period (WithLinger), so Disconnect returns within it. For PUSH
//     and DEALER, what is still unwritten then goes to the other peers, as
//     when a peer leaves (requeue.go); other types drop it, as libzmq does.
//
// A PUB/XPUB peer loses our subscriptions with the connection; a SUB or
// XSUB keeps its subscriptions for the other peers.
func (s *Socket) Disconnect(endpoint string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	dials := s.dials[endpoint]
	if len(dials) == 0 {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNotConnected, endpoint)
	}
	delete(s.dials, endpoint)
	var conns []*conn
	for _, d := range dials {
		d.stop()
		if d.conn != nil {
			conns = append(conns, d.conn)
			d.conn = nil
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.retire(c)
	}
	return nil
}

// ConnectedEndpoints returns the endpoints the socket is connected to (each
// given to Connect and not yet to Disconnect), sorted, each once, whether
// or not a connection to it is up right now.
func (s *Socket) ConnectedEndpoints() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.dials))
	for ep := range s.dials {
		out = append(out, ep)
	}
	slices.Sort(out)
	return out
}

// retire closes a connection Disconnect took away: its unread input is
// discarded, it leaves the pattern so that nothing new is routed to it, it
// writes what it holds for up to the linger period, then it closes.
func (s *Socket) retire(c *conn) {
	s.fq.discard(c)
	s.detach(c)
	if s.opts.linger > 0 {
		c.drain(s.opts.linger)
	}
	c.fail(errConnClosed)
}

// discard drops the messages received on c that Recv has not taken and
// refuses further ones (zmq_disconnect discards them).
func (q *fairQueue) discard(c *conn) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c.inDropped = true
	if i := slices.Index(q.active, c); i >= 0 {
		q.active = slices.Delete(q.active, i, i+1)
		if q.cur > i {
			q.cur--
		}
	}
	c.inq = msgQueue{} // nothing more is queued for c: free the chunks
	if c.inRaw != nil {
		*c.inRaw = rawQueue{}
	}
	if c.inWaiting {
		c.inWaiting = false
		select {
		case c.space <- struct{}{}:
		default:
		}
	}
}
