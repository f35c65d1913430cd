package zmtp

import (
	"context"
	"io"
)

// Requeue on peer loss. A PUSH or DEALER load-balances each message to one
// peer; when that peer leaves, libzmq drops whatever was still queued for
// it. We hand those messages to the remaining peers instead: every message
// none of whose octets had reached the departing connection's kernel
// socket buffer — still in its send queue, in the batch its writer held,
// or in the writer's user-space buffer — is sent again through the load
// balancer, blocking (like Send) until some peer has room. What can still
// be lost are the messages the kernel had already accepted, wholly or in
// part, for the dead connection (its socket send buffer and whatever the
// peer received but never read): ZeroMQ has no acknowledgements, so nobody
// can tell whether those arrived. Not resending a message that was cut
// short also keeps a message its peer refuses (over the peer's
// ZMQ_MAXMSGSIZE) from bouncing between reconnects forever.

// requeuer is implemented by patterns whose messages may go to any peer.
type requeuer interface {
	// requeue sends msgs to other peers, blocking while none has room, and
	// returns how many were taken before the socket closed.
	requeue(msgs []Msg) int
}

func (p *pushPattern) requeue(msgs []Msg) int   { return p.s.lb.requeue(msgs) }
func (p *dealerPattern) requeue(msgs []Msg) int { return p.s.lb.requeue(msgs) }

// requeue sends each message to the next peer with room, waiting for one
// while there is none; it stops when the socket closes.
func (l *loadBalancer) requeue(msgs []Msg) int {
	for i, m := range msgs {
		if _, err := l.send(context.Background(), m); err != nil {
			return i
		}
	}
	return len(msgs)
}

// rescue runs once, in the writer goroutine, after the connection failed:
// it requeues the messages the peer can no longer get. unsent is the part
// of the writer's batch never passed to the buffered writer.
func (c *conn) rescue(unsent []Msg) {
	rq, ok := c.s.pat.(requeuer)
	if !ok {
		return
	}
	kernel := c.cw.n
	msgs := c.unacked.unstarted(kernel)
	if len(unsent) > 0 && kernel > c.unacked.sent {
		unsent = unsent[1:] // cut short while being written
	}
	msgs = append(msgs, unsent...)
	// enqueue refuses new messages once c.done is closed, which fail did
	// before we got here, so the queue is complete.
	c.outMu.Lock()
	msgs = append(msgs, c.out...)
	c.out = nil
	c.outMu.Unlock()
	if len(msgs) == 0 || c.s.isClosed() {
		return
	}
	c.s.stats.requeued.Add(uint64(rq.requeue(msgs)))
}

// countingWriter counts the octets the kernel accepted.
type countingWriter struct {
	w io.Writer
	n uint64
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n += uint64(n)
	return n, err
}

// unackedMsgs remembers the messages passed to a connection's buffered
// writer until the kernel has accepted their last octet. Offsets count the
// octets passed to the buffered writer since the handshake, the same
// origin as countingWriter.n.
type unackedMsgs struct {
	on     bool
	sent   uint64 // octets passed to the buffered writer
	msgs   []Msg
	starts []uint64 // starts[i]: offset of msgs[i]'s first octet
	ends   []uint64 // ends[i]: offset just past msgs[i]'s last octet
	head   int
}

// push records that m's frames, n octets on the wire, were passed to the
// buffered writer.
func (u *unackedMsgs) push(m Msg, n int) {
	if !u.on {
		return
	}
	u.starts = append(u.starts, u.sent)
	u.sent += uint64(n)
	u.msgs = append(u.msgs, m)
	u.ends = append(u.ends, u.sent)
}

// skip records n octets that belong to no message (commands).
func (u *unackedMsgs) skip(n int) {
	if u.on {
		u.sent += uint64(n) // starts, msgs and ends stay one entry per message
	}
}

// ack forgets the messages whose last octet the kernel accepted.
func (u *unackedMsgs) ack(kernel uint64) {
	for u.head < len(u.msgs) && u.ends[u.head] <= kernel {
		u.msgs[u.head] = nil
		u.head++
	}
	switch {
	case u.head == len(u.msgs):
		u.msgs, u.starts, u.ends, u.head = u.msgs[:0], u.starts[:0], u.ends[:0], 0
	case u.head > 1024 && u.head > len(u.msgs)/2:
		n := copy(u.msgs, u.msgs[u.head:])
		copy(u.starts, u.starts[u.head:])
		copy(u.ends, u.ends[u.head:])
		clear(u.msgs[n:])
		u.msgs, u.starts, u.ends, u.head = u.msgs[:n], u.starts[:n], u.ends[:n], 0
	}
}

// unstarted returns the messages none of whose octets the kernel accepted.
func (u *unackedMsgs) unstarted(kernel uint64) []Msg {
	var out []Msg
	for i := u.head; i < len(u.msgs); i++ {
		if u.starts[i] >= kernel {
			out = append(out, u.msgs[i])
		}
	}
	return out
}

// wireSize is the number of octets writeMsg produces for m.
func wireSize(m Msg) int {
	n := 0
	for _, f := range m {
		n += frameHeaderSize(len(f)) + len(f)
	}
	return n
}
