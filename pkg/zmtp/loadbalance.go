package zmtp

import (
	"context"
	"sync"
	"sync/atomic"
)

// loadBalancer is the send side of PUSH, DEALER, REQ and PAIR (libzmq's
// lb_t): messages go round-robin to connections whose queue is below the
// send HWM; when every queue is full (or there is no peer) Send blocks until
// a writer makes room or a peer arrives, honouring the context. Its waiting
// half (waitRoom, signal) also serves other senders that wait for a queue
// to drain, such as a ROUTER with WithRouterMandatory.
type loadBalancer struct {
	mu      sync.Mutex
	conns   []*conn
	cur     int
	hwm     int
	waiters atomic.Int32
	spaceMu sync.Mutex
	space   chan struct{} // closed (and replaced) by signal
	closing <-chan struct{}
}

func newLoadBalancer(hwm int, closing <-chan struct{}) *loadBalancer {
	return &loadBalancer{hwm: hwm, space: make(chan struct{}), closing: closing}
}

func (l *loadBalancer) add(c *conn) {
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	l.signal()
}

func (l *loadBalancer) remove(c *conn) {
	l.mu.Lock()
	for i, x := range l.conns {
		if x == c {
			l.conns = append(l.conns[:i], l.conns[i+1:]...)
			if l.cur > i {
				l.cur--
			}
			break
		}
	}
	l.mu.Unlock()
}

// signal wakes every blocked sender, if any, to try again. It is called by
// writers after they take a batch off their queue, so it must be cheap when
// nobody waits. Waking all of them (rather than one) matters when senders
// wait for different peers: a wake-up taken by a sender whose peer is still
// full must not be lost to one whose peer has room.
func (l *loadBalancer) signal() {
	if l.waiters.Load() > 0 {
		l.spaceMu.Lock()
		close(l.space)
		l.space = make(chan struct{})
		l.spaceMu.Unlock()
	}
}

// waitRoom calls try until it reports done, waiting between attempts for a
// signal (a writer made room, a peer arrived or left), until ctx ends or the
// socket closes.
func (l *loadBalancer) waitRoom(ctx context.Context, try func() bool) error {
	if try() {
		return nil
	}
	l.waiters.Add(1)
	defer l.waiters.Add(-1)
	for {
		l.spaceMu.Lock()
		space := l.space
		l.spaceMu.Unlock()
		// Try again after registering and taking the channel, so that a
		// signal sent since the failed attempt is not lost.
		if try() {
			return nil
		}
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		case <-l.closing:
			return ErrClosed
		}
	}
}

// trySend offers m to each connection once, starting after the last one
// used.
func (l *loadBalancer) trySend(m Msg) (*conn, bool) {
	n := len(l.conns)
	for i := 0; i < n; i++ {
		if l.cur >= n {
			l.cur = 0
		}
		c := l.conns[l.cur]
		l.cur++
		if c.enqueue(m, l.hwm) {
			return c, true
		}
	}
	return nil, false
}

// send queues m on the next connection with room, blocking while there is
// none.
func (l *loadBalancer) send(ctx context.Context, m Msg) (*conn, error) {
	var c *conn
	err := l.waitRoom(ctx, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		var ok bool
		c, ok = l.trySend(m)
		return ok
	})
	return c, err
}
