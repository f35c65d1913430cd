package zmtp

import "context"

// The raw path of Forward: from a socket whose connections queue raw
// (XSUB, rawrecv.go) to one that distributes (PUB, XPUB), with no hooks,
// messages move as the octets they arrived as, and a packed send queue
// references them instead of copying them (pushSpan). This is a
// Forwarder's data direction.

// rawSender is implemented by patterns that can send raw messages.
type rawSender interface {
	// sendRaw sends msgs in order as sendBatch would.
	sendRaw(msgs []rawMsg)
}

func (p *pubPattern) sendRaw(msgs []rawMsg) {
	if d := p.s.dist.sendRaw(msgs); d > 0 {
		p.s.stats.drops.Add(d)
	}
}

// sendRaw is sendBatch (filtered by subscriptions, as PUB and XPUB send)
// for raw messages.
func (d *distributor) sendRaw(msgs []rawMsg) (drops uint64) {
	for _, c := range d.list() {
		n := c.enqueueSpans(msgs, d.hwm)
		for i := range msgs[n:] {
			if c.subs.match(msgs[n+i].topic) {
				drops++
			}
		}
	}
	return drops
}

// enqueueSpans is enqueueMany for raw messages, skipping those c's
// subscriptions do not match: a packed queue takes a span by reference,
// any other queue a Msg. It returns how many of msgs it consumed (queued
// or skipped); it stops at the first that finds the queue at hwm (<= 0:
// unbounded).
func (c *conn) enqueueSpans(msgs []rawMsg, hwm int) int {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.closed() {
		return 0
	}
	n, queued := 0, 0
	for ; n < len(msgs); n++ {
		r := &msgs[n]
		if !c.subs.match(r.topic) {
			continue
		}
		if hwm > 0 && c.queuedLocked() >= hwm {
			break
		}
		if r.span != nil && c.pack {
			c.packed.pushSpan(r.span, r.size)
		} else {
			c.pushLocked(r.msg())
		}
		queued++
	}
	if queued > 0 {
		c.kickLocked()
	}
	return n
}

// pushSpan queues the message framed in span, whose bodies hold size
// octets, by reference: span's octets are never written again
// (rawrecv.go). A span that follows the last one queued in the same chunk
// extends its segment, so a run of messages is written as one piece; a
// run that ends shorter than spanRunMin is copied (endRun).
func (q *packedQueue) pushSpan(span []byte, size int) {
	q.bytes += uint64(size)
	q.msgs++
	if q.run {
		last := q.segs[len(q.segs)-1]
		if cap(last)-len(last) >= len(span) && &last[:len(last)+1][len(last)] == &span[0] {
			q.segs[len(q.segs)-1] = last[:len(last)+len(span)]
			return
		}
		q.endRun()
	}
	q.closeSeg()
	q.segs = append(q.segs, span)
	q.run = true
}

// spanRunMin is the length in octets, frame headers included, of the
// shortest run of spans a send queue keeps by reference (endRun): a run
// holds a receive chunk (packChunk) alive while it waits, so a slow
// subscriber to a sparse choice of messages holds about 32 times the
// octets it has queued, plus the chunk of its last run.
const spanRunMin = packChunk / 32

// endRun ends the span run at the end of segs, if any. A run shorter than
// spanRunMin is copied into a chunk of q's instead, after what q copied
// last when that ends the chunk, so that the short runs of publishers
// whose messages alternate make one segment, not one each.
func (q *packedQueue) endRun() {
	if !q.run {
		return
	}
	q.run = false
	last := q.segs[len(q.segs)-1]
	if len(last) >= spanRunMin {
		return
	}
	q.segs[len(q.segs)-1] = nil
	q.segs = q.segs[:len(q.segs)-1]
	// Nothing followed the run, so the open segment is empty; reopen the
	// segment before the run if it is cur's tail.
	if n := len(q.segs); n > 0 && q.mark == len(q.cur) {
		prev := q.segs[n-1]
		if k := len(prev); k > 0 && k <= q.mark && &prev[0] == &q.cur[q.mark-k] {
			q.segs[n-1] = nil
			q.segs = q.segs[:n-1]
			q.mark -= k
		}
	}
	q.reserve(len(last))
	q.cur = append(q.cur, last...)
}

// mover is one direction of Forward's batches: what it received from one
// socket and sends to the other.
type mover interface {
	// recv receives into the batch's slots i to j-1 as recvBatch does.
	recv(ctx context.Context, i, j int, wait bool) (int, error)
	// send sends the batch's first n messages.
	send(ctx context.Context, n int) error
	// clear drops the batch's first n messages.
	clear(n int)
}

// newMover returns the raw mover where the sockets and hooks allow it,
// else the Msg one.
func newMover(from, to *Socket, h ForwardHooks) mover {
	_, rawFrom := from.pat.(rawIncomer)
	rs, rawTo := to.pat.(rawSender)
	if rawFrom && rawTo && h.Accept == nil && h.Sent == nil {
		return &rawMover{from: from, to: to, rs: rs, buf: make([]rawMsg, proxyBatch)}
	}
	return &msgMover{from: from, to: to, h: h, buf: make([]Msg, proxyBatch)}
}

// msgMover moves Msg values, through the hooks.
type msgMover struct {
	from, to *Socket
	h        ForwardHooks
	buf      []Msg
}

func (m *msgMover) recv(ctx context.Context, i, j int, wait bool) (int, error) {
	return m.from.recvBatch(ctx, m.buf[i:j], wait)
}

func (m *msgMover) send(ctx context.Context, n int) error {
	batch := m.buf[:n]
	if m.h.Accept != nil {
		batch = m.buf[:0]
		for _, msg := range m.buf[:n] {
			if m.h.Accept(msg) {
				batch = append(batch, msg)
			}
		}
	}
	err := m.to.sendBatch(ctx, batch)
	if err == nil && m.h.Sent != nil {
		for _, msg := range batch {
			m.h.Sent(msg)
		}
	}
	return err
}

func (m *msgMover) clear(n int) { clear(m.buf[:n]) }

// rawMover moves raw messages.
type rawMover struct {
	from, to *Socket
	rs       rawSender
	buf      []rawMsg
}

func (m *rawMover) recv(ctx context.Context, i, j int, wait bool) (int, error) {
	if m.from.isClosed() {
		return 0, ErrClosed
	}
	if i >= j {
		return 0, nil
	}
	return m.from.fq.popRawBatch(ctx, m.buf[i:j], wait)
}

func (m *rawMover) send(_ context.Context, n int) error {
	if m.to.isClosed() {
		return ErrClosed
	}
	m.rs.sendRaw(m.buf[:n])
	return nil
}

func (m *rawMover) clear(n int) { clear(m.buf[:n]) }

// popRawBatch is popBatch for Forward's raw path: up to len(dst) messages
// in fair order, waiting like pop while none is queued if wait is set.
func (q *fairQueue) popRawBatch(ctx context.Context, dst []rawMsg, wait bool) (int, error) {
	n := 0
	if !wait {
		q.mu.Lock()
		n = q.takeRawLocked(dst)
		q.mu.Unlock()
		return n, nil
	}
	err := q.waitTake(ctx, q.drained, func() bool {
		n = q.takeRawLocked(dst)
		return n > 0
	})
	if err == errStopped {
		err = ErrDrained
	}
	return n, err
}

// takeRawLocked is takeLocked for raw messages.
func (q *fairQueue) takeRawLocked(dst []rawMsg) int {
	n := 0
	for n < len(dst) {
		r, ok := q.tryPopRaw()
		if !ok {
			break
		}
		dst[n] = r
		n++
	}
	q.signalMore(n)
	return n
}
