package zmtp

import (
	"context"
	"errors"
	"time"
)

// Draining: letting a socket's peers go without losing what is in flight.
//
// ZMTP has no goodbye, so the drain uses TCP's half-close, which every
// peer sees as end of stream:
//
//   - The draining side (Drain, HalfClosePeer) stops listening and dialing,
//     writes what it has queued for a connection, then shuts that
//     connection's sending side (FIN). It goes on reading until the peer
//     closes, so nothing the peer already sent is lost.
//   - A pkg/zmtp peer that reads end of stream at a message boundary stops
//     giving the connection new messages, finishes writing the ones its
//     writer had started (the draining side is still reading), hands the
//     ones still queued to its other peers or its reconnection (PUSH and
//     DEALER, requeue.go), and closes. A peer that does not close within
//     peerFinishTimeout is closed anyway.
//
// libzmq peers close on end of stream too, dropping what they still
// queued for the connection, as they do whenever a peer leaves.

// ErrDrained is returned by Recv on a socket that Drain has drained once
// every message its peers sent has been received.
var ErrDrained = errors.New("zmtp: socket drained")

// peerFinishTimeout bounds how long a connection whose peer shut its
// sending side waits for its writer to finish.
const peerFinishTimeout = 5 * time.Second

// StopAccepting closes the socket's listeners and stops its connecting
// endpoints from dialing or redialing; established connections are kept.
// A connection whose handshake was under way is attached when it
// completes and drained at once.
func (s *Socket) StopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return
	}
	s.draining = true
	close(s.drainStart)
	// Dialers stop at their next attempt; handshakes under way finish, as
	// their peers may have sent messages already, and their connections
	// are drained in turn (attach).
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
}

// Drain lets every peer of the socket go without losing what is in
// flight: it stops accepting (StopAccepting), writes what is queued for
// each connection and shuts its sending side, keeps receiving until each
// peer has closed, and returns when none is left, or with ctx's error when
// ctx ends first (the remaining connections stay open; Close ends them).
// Messages received meanwhile stay available to Recv, which returns
// ErrDrained once they are taken.
func (s *Socket) Drain(ctx context.Context) error {
	s.StopAccepting()
	s.halfCloseWhere(func(*conn) bool { return true })
	return s.WaitPeersGone(ctx)
}

// HalfClosePeer drains the one connection of a ROUTER socket with the
// given routing id: what is queued for it is written, then its sending
// side is shut; the socket keeps reading it until the peer closes. It
// reports whether such a connection exists.
func (s *Socket) HalfClosePeer(routingID []byte) bool {
	r, ok := s.pat.(*routerPattern)
	if !ok {
		return false
	}
	c := r.lookup(routingID)
	if c == nil {
		return false
	}
	c.halfClose()
	return true
}

// PeerClosing reports whether the connection of a ROUTER socket with the
// given routing id is being drained (its sending side is shut or about to
// be): a reply to it could not be delivered.
func (s *Socket) PeerClosing(routingID []byte) bool {
	r, ok := s.pat.(*routerPattern)
	if !ok {
		return false
	}
	c := r.lookup(routingID)
	if c == nil {
		return false
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.shutWr
}

// HalfCloseIdle drains, as HalfClosePeer does, every connection of a
// ROUTER socket for whose routing id busy returns false. busy is called
// under the socket's lock and must not call back into the socket.
func (s *Socket) HalfCloseIdle(busy func(routingID []byte) bool) {
	s.halfCloseWhere(func(c *conn) bool { return !busy(c.routingID) })
}

func (s *Socket) halfCloseWhere(pick func(*conn) bool) {
	s.mu.Lock()
	var picked []*conn
	for c := range s.conns {
		if pick(c) {
			picked = append(picked, c)
		}
	}
	s.mu.Unlock()
	for _, c := range picked {
		c.halfClose()
	}
}

// WaitPeersGone waits, after StopAccepting, until the socket has no
// connection left; from then on Recv returns ErrDrained once the received
// messages are taken. It returns ctx's error if ctx ends first.
func (s *Socket) WaitPeersGone(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns) + s.pending
		if n == 0 && s.draining {
			s.drainedOnce.Do(func() { close(s.drained) })
		}
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return ErrClosed
		case <-t.C:
		}
	}
}

// halfClose asks the writer to write what is queued, then shut the
// sending side; the reader goes on until the peer closes.
func (c *conn) halfClose() {
	c.outMu.Lock()
	c.shutWr = true
	c.writerIdle = false
	select {
	case c.wake <- struct{}{}:
	default:
	}
	c.outMu.Unlock()
}

// closeWrite runs in the writer once the queue of a half-closing
// connection is written: it shuts the sending side and waits for the
// reader to see the peer close.
func (c *conn) closeWrite() error {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			return err
		}
	} else {
		return errConnClosed // no half-close on this transport: just close
	}
	<-c.done
	return c.err
}

// peerFinished runs in the reader when the peer shut its sending side at
// a message boundary. If this side is draining too, the connection is
// done; otherwise the writer finishes (finishWrites) and the connection
// closes, within peerFinishTimeout at the latest.
func (c *conn) peerFinished() {
	c.outMu.Lock()
	draining := c.shutWr
	c.peerDone.Store(true)
	c.writerIdle = false
	select {
	case c.wake <- struct{}{}:
	default:
	}
	c.outMu.Unlock()
	if draining {
		c.fail(errConnClosed)
		return
	}
	t := time.AfterFunc(peerFinishTimeout, func() { c.fail(errPeerFinished) })
	go func() {
		<-c.done
		t.Stop()
	}()
}

// errPeerFinished is the cause recorded when a peer shut its sending side.
var errPeerFinished = errors.New("zmtp: peer closed its sending side")

// finishWrites runs in the writer after the peer shut its sending side:
// it writes what was already passed to the buffered writer (whole
// messages: the peer is still reading), so that no message is cut short.
// What is still queued is left for rescue to requeue.
func (c *conn) finishWrites() error {
	if err := c.bw.Flush(); err != nil {
		return err
	}
	c.unacked.ack(c.cw.n)
	return errPeerFinished
}

// handshaking counts a handshake under way until the returned func runs.
func (s *Socket) handshaking() (done func()) {
	s.mu.Lock()
	s.pending++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.pending--
		s.mu.Unlock()
	}
}
