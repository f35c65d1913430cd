package zmtp

import (
	"context"
	"errors"
	"sync"
)

// fairQueue is the receive side shared by every socket type that receives
// (libzmq's fq_t): each connection has its own bounded queue (RecvHWM
// messages) and Recv takes one message from each non-empty queue in turn, so
// a busy peer cannot starve a quiet one. A reader whose queue is full blocks,
// which pushes back on the peer through TCP.
type fairQueue struct {
	mu      sync.Mutex
	active  []*conn // connections with queued messages, in round-robin order
	cur     int
	waiters int
	notify  chan struct{}
	hwm     int
	lwm     int // a reader blocked at hwm resumes below this (lowWater)
	closing <-chan struct{}
	// drained is closed when a draining socket has no peer left: pop then
	// returns ErrDrained instead of waiting once the queue is empty.
	drained <-chan struct{}
}

func newFairQueue(hwm int, closing <-chan struct{}) *fairQueue {
	return &fairQueue{hwm: hwm, lwm: lowWater(hwm), notify: make(chan struct{}, 1), closing: closing}
}

// lowWater is the queue length below which a reader blocked at the HWM is
// woken, as libzmq's pipes do (pipe.cpp, compute_lwm): half the HWM, or
// the HWM less 1024 for HWMs above 2048. Waking it as soon as one message
// is taken would have it push one batch and block again, a hand-off per
// batch; from the low-water mark it refills the queue from what its buffer
// holds in a few batches.
func lowWater(hwm int) int {
	const maxDelta = 1024
	if hwm > 2*maxDelta {
		return hwm - maxDelta
	}
	return (hwm + 1) / 2
}

func (c *conn) inLen() int {
	if c.inRaw != nil {
		return c.inRaw.len()
	}
	return c.inq.len()
}

// handoffLen is how many messages a connection's receive queue holds
// before its reader yields to a receiver that waits for them (push,
// conn.readLoop): what a reader at the default HWM would hold when it
// blocks, handing off. A queue whose HWM is no larger blocks first, and
// never asks for the yield.
const handoffLen = DefaultHWM

// push appends a batch of messages received on c. It blocks while c's queue
// is at the HWM; ok is false if c or the socket closes meanwhile. handoff
// reports that a receiver waits for messages (it was signalled, now or by
// an earlier push, and has not run since) while c's queue, unbounded or
// with an HWM above handoffLen, holds at least handoffLen of them: the
// reader should yield to it.
func (q *fairQueue) push(c *conn, batch []Msg) (ok, handoff bool) {
	if len(batch) == 0 {
		return true, false // an empty queue never joins q.active
	}
	if !q.lockRoom(c) {
		return false, false
	}
	wasEmpty := c.inLen() == 0
	c.queueInLocked(batch)
	return true, q.pushedLocked(c, wasEmpty)
}

// queueInLocked appends msgs to c's receive queue; q.mu is held. On a
// connection that queues raw (which only its reader fills, with pushRaw)
// they go behind marker records, so that a push never strands messages in
// the queue that pop does not read.
func (c *conn) queueInLocked(msgs []Msg) {
	if c.inRaw == nil {
		c.inq.pushAll(msgs)
		return
	}
	markers := make([]byte, len(msgs))
	for i := range markers {
		markers[i] = rawMarker
	}
	c.inRaw.push([][]byte{markers}, msgs, len(msgs))
}

// pushRaw is push for a connection that queues raw (rawrecv.go): it
// queues the records b published, and resets b.
func (q *fairQueue) pushRaw(c *conn, b *rawBuilder) (ok, handoff bool) {
	segs, side, n := b.take()
	defer b.reset()
	if n == 0 {
		return true, false
	}
	if !q.lockRoom(c) {
		return false, false
	}
	wasEmpty := c.inLen() == 0
	c.inRaw.push(segs, side, n)
	return true, q.pushedLocked(c, wasEmpty)
}

// lockRoom locks q once c's queue is below the HWM, waiting meanwhile; it
// returns false, unlocked, if c or the socket closes first or c's input
// was discarded.
func (q *fairQueue) lockRoom(c *conn) bool {
	q.mu.Lock()
	for !c.inDropped && q.hwm > 0 && c.inLen() >= q.hwm {
		c.inWaiting = true
		q.mu.Unlock()
		select {
		case <-c.space:
		case <-c.done:
			return false
		case <-q.closing:
			return false
		}
		q.mu.Lock()
	}
	if c.inDropped {
		q.mu.Unlock()
		return false
	}
	return true
}

// pushedLocked ends a push to c, whose queue was empty before it if
// wasEmpty: it makes c active, wakes a receiver, unlocks q and reports
// whether the reader should yield (push).
func (q *fairQueue) pushedLocked(c *conn, wasEmpty bool) (handoff bool) {
	if wasEmpty {
		q.active = append(q.active, c)
	}
	if q.waiters > 0 {
		q.signal()
		handoff = (q.hwm <= 0 || q.hwm > handoffLen) && c.inLen() >= handoffLen
	}
	q.mu.Unlock()
	return handoff
}

func (q *fairQueue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// tryPop takes the next message in fair order, if any.
func (q *fairQueue) tryPop() (*conn, Msg, bool) {
	c := q.next()
	if c == nil {
		return nil, nil, false
	}
	var m Msg
	if c.inRaw != nil {
		r, _ := c.inRaw.pop()
		m = r.msg()
	} else {
		m, _ = c.inq.pop()
	}
	q.popped(c)
	return c, m, true
}

// tryPopRaw is tryPop for Forward: a raw record stays octets.
func (q *fairQueue) tryPopRaw() (rawMsg, bool) {
	c := q.next()
	if c == nil {
		return rawMsg{}, false
	}
	var r rawMsg
	if c.inRaw != nil {
		r, _ = c.inRaw.pop()
	} else {
		m, _ := c.inq.pop()
		r = msgRaw(m)
	}
	q.popped(c)
	return r, true
}

// next returns the connection whose message is next in fair order, or
// nil if none is queued.
func (q *fairQueue) next() *conn {
	if len(q.active) == 0 {
		return nil
	}
	if q.cur >= len(q.active) {
		q.cur = 0
	}
	return q.active[q.cur]
}

// popped updates the round robin after a message was taken from c, the
// connection next returned, and wakes c's reader below the low-water
// mark.
func (q *fairQueue) popped(c *conn) {
	if c.inLen() == 0 {
		copy(q.active[q.cur:], q.active[q.cur+1:])
		q.active[len(q.active)-1] = nil
		q.active = q.active[:len(q.active)-1]
	} else {
		q.cur++
	}
	if c.inWaiting && c.inLen() < q.lwm {
		c.inWaiting = false
		select {
		case c.space <- struct{}{}:
		default:
		}
	}
}

// errStopped is waitTake's answer when its stop channel closed first.
var errStopped = errors.New("zmtp: wait stopped")

// pop waits for the next message, honouring ctx and socket close.
func (q *fairQueue) pop(ctx context.Context) (*conn, Msg, error) {
	c, m, err := q.popUntil(ctx, q.drained)
	if err == errStopped {
		err = ErrDrained
	}
	return c, m, err
}

// popUntil is pop that also gives up, with errStopped, once stop is closed
// and no message is queued from any peer (a nil stop never fires), as
// waitTake does. REQ uses it to stop waiting for a reply when the peer it
// asked disconnects.
func (q *fairQueue) popUntil(ctx context.Context, stop <-chan struct{}) (c *conn, m Msg, err error) {
	err = q.waitTake(ctx, stop, func() bool {
		var ok bool
		c, m, ok = q.tryPop()
		return ok
	})
	return c, m, err
}

// waitTake calls take with q.mu held (take must neither block nor
// unlock) until take reports that it took messages, waiting for pushes
// meanwhile, and passes the wake-up on to another receiver if more are
// queued. It returns nil once take took some, else ctx's error, ErrClosed
// when the socket closes, or errStopped once stop is closed (a nil stop
// never fires); a message that raced in with the error is still taken.
func (q *fairQueue) waitTake(ctx context.Context, stop <-chan struct{}, take func() bool) error {
	q.mu.Lock()
	for {
		if take() {
			q.signalMore(1)
			q.mu.Unlock()
			return nil
		}
		select {
		case <-q.closing:
			q.mu.Unlock()
			return ErrClosed
		default:
		}
		q.waiters++
		q.mu.Unlock()
		var err error
		select {
		case <-q.notify:
		case <-ctx.Done():
			err = ctx.Err()
		case <-stop:
			err = errStopped
		case <-q.closing:
			err = ErrClosed
		}
		q.mu.Lock()
		q.waiters--
		if err != nil {
			// A message may have raced in; take it rather than strand it
			// behind a consumed notification.
			if take() {
				q.mu.Unlock()
				return nil
			}
			if q.waiters > 0 {
				q.signal()
			}
			q.mu.Unlock()
			return err
		}
	}
}

// pushNoWait appends without honouring the HWM; it is used for the few
// messages a socket generates itself (XPUB cancels on disconnect).
func (q *fairQueue) pushNoWait(c *conn, msgs []Msg) {
	if len(msgs) == 0 {
		return
	}
	q.mu.Lock()
	wasEmpty := c.inLen() == 0
	c.queueInLocked(msgs)
	q.pushedLocked(c, wasEmpty)
}
