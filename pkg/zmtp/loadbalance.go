package zmtp

import (
	"context"
	"sync"
	"sync/atomic"
)

// loadBalancer is the send side of PUSH, DEALER, REQ and PAIR (libzmq's
// lb_t): messages go round-robin to connections whose queue is below the
// send HWM; when every queue is full (or there is no peer) Send blocks until
// a writer makes room or a peer arrives, honouring the context.
type loadBalancer struct {
	mu      sync.Mutex
	conns   []*conn
	cur     int
	hwm     int
	waiters atomic.Int32
	space   chan struct{}
	closing <-chan struct{}
}

func newLoadBalancer(hwm int, closing <-chan struct{}) *loadBalancer {
	return &loadBalancer{hwm: hwm, space: make(chan struct{}, 1), closing: closing}
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

// signal wakes one blocked sender, if any. It is called by writers after
// they take a batch off their queue, so it must be cheap.
func (l *loadBalancer) signal() {
	if l.waiters.Load() > 0 {
		select {
		case l.space <- struct{}{}:
		default:
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
	for waited := false; ; waited = true {
		l.mu.Lock()
		c, ok := l.trySend(m)
		if ok {
			l.mu.Unlock()
			if waited {
				// Pass the wake-up on: there may be room for others too.
				l.signal()
			}
			return c, nil
		}
		l.waiters.Add(1)
		l.mu.Unlock()
		// Re-check after registering as a waiter so a signal sent between
		// the failed attempt and the registration is not lost.
		l.mu.Lock()
		c, ok = l.trySend(m)
		l.mu.Unlock()
		if ok {
			l.waiters.Add(-1)
			return c, nil
		}
		select {
		case <-l.space:
			l.waiters.Add(-1)
		case <-ctx.Done():
			l.waiters.Add(-1)
			return nil, ctx.Err()
		case <-l.closing:
			l.waiters.Add(-1)
			return nil, ErrClosed
		}
	}
}
