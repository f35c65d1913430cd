package zmtp

import "context"

// Batched receive and send for Proxy: a device moves whatever one side has
// queued to the other in one pass, taking each lock once per batch instead
// of once per message, and waking each writer once per batch. Message
// semantics are those of Recv and Send: whole messages in the fair-queue
// order, the same HWM checks, the same drops.

// batchRecver is implemented by patterns that receive from the fair queue
// without per-message state (everything but REQ and REP).
type batchRecver interface {
	// recvBatch takes up to len(dst) queued messages; if none is queued
	// it waits like recv when wait is set, else returns 0. It returns how
	// many it stored.
	recvBatch(ctx context.Context, dst []Msg, wait bool) (int, error)
}

// batchSender is implemented by patterns whose Send of several messages
// in a row can share the locking.
type batchSender interface {
	// sendBatch sends msgs in order as Send would, one by one.
	sendBatch(ctx context.Context, msgs []Msg) error
}

// recvBatch fills dst with the messages queued, at least one if wait is
// set (waiting for it); it falls back to Recv, one message, for patterns
// without a batched path.
func (s *Socket) recvBatch(ctx context.Context, dst []Msg, wait bool) (int, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	if len(dst) == 0 {
		return 0, nil
	}
	if br, ok := s.pat.(batchRecver); ok {
		return br.recvBatch(ctx, dst, wait)
	}
	if !wait {
		return 0, nil
	}
	m, err := s.pat.recv(ctx)
	if err != nil {
		return 0, err
	}
	dst[0] = m
	return 1, nil
}

// sendBatch sends msgs in order; it falls back to Send for patterns
// without a batched path.
func (s *Socket) sendBatch(ctx context.Context, msgs []Msg) error {
	if s.isClosed() {
		return ErrClosed
	}
	for i, m := range msgs {
		if len(m) == 0 {
			msgs[i] = Msg{nil}
		}
	}
	if bs, ok := s.pat.(batchSender); ok {
		return bs.sendBatch(ctx, msgs)
	}
	for _, m := range msgs {
		if err := s.pat.send(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// popBatch takes up to len(dst) messages in fair order, waiting like pop
// while none is queued if wait is set. from, if not nil, receives each
// message's connection.
func (q *fairQueue) popBatch(ctx context.Context, dst []Msg, from []*conn, wait bool) (int, error) {
	n := 0
	if !wait {
		q.mu.Lock()
		n = q.takeLocked(dst, from)
		q.mu.Unlock()
		return n, nil
	}
	err := q.waitTake(ctx, q.drained, func() bool {
		n = q.takeLocked(dst, from)
		return n > 0
	})
	if err == errStopped {
		err = ErrDrained
	}
	return n, err
}

// takeLocked takes up to len(dst) queued messages without waiting.
func (q *fairQueue) takeLocked(dst []Msg, from []*conn) int {
	n := 0
	for n < len(dst) {
		c, m, ok := q.tryPop()
		if !ok {
			break
		}
		dst[n] = m
		if from != nil {
			from[n] = c
		}
		n++
	}
	q.signalMore(n)
	return n
}

// signalMore passes the wake-up on to another waiting receiver after n
// messages were taken, if more are queued.
func (q *fairQueue) signalMore(n int) {
	if n > 0 && q.waiters > 0 && len(q.active) > 0 {
		q.signal()
	}
}

func (p *pullPattern) recvBatch(ctx context.Context, dst []Msg, wait bool) (int, error) {
	return p.s.fq.popBatch(ctx, dst, nil, wait)
}

func (p *subPattern) recvBatch(ctx context.Context, dst []Msg, wait bool) (int, error) {
	return p.s.fq.popBatch(ctx, dst, nil, wait)
}

func (p *xpubPattern) recvBatch(ctx context.Context, dst []Msg, wait bool) (int, error) {
	return p.s.fq.popBatch(ctx, dst, nil, wait)
}

func (p *dealerPattern) recvBatch(ctx context.Context, dst []Msg, wait bool) (int, error) {
	return p.s.fq.popBatch(ctx, dst, nil, wait)
}

// recvBatch prefixes each message with its peer's routing id, as recv does.
func (p *routerPattern) recvBatch(ctx context.Context, dst []Msg, wait bool) (int, error) {
	var from [32]*conn
	total := 0
	for total < len(dst) {
		chunk := dst[total:min(len(dst), total+len(from))]
		n, err := p.s.fq.popBatch(ctx, chunk, from[:len(chunk)], wait && total == 0)
		for i, m := range chunk[:n] {
			out := make(Msg, 0, len(m)+1)
			out = append(out, append([]byte(nil), from[i].routingID...))
			chunk[i] = append(out, m...)
		}
		total += n
		if err != nil || n < len(chunk) {
			return total, err
		}
	}
	return total, nil
}

func (p *pushPattern) sendBatch(ctx context.Context, msgs []Msg) error {
	return p.s.lb.sendBatch(ctx, msgs)
}

func (p *dealerPattern) sendBatch(ctx context.Context, msgs []Msg) error {
	return p.s.lb.sendBatch(ctx, msgs)
}

func (p *pubPattern) sendBatch(_ context.Context, msgs []Msg) error {
	if d := p.s.dist.sendBatch(msgs, true); d > 0 {
		p.s.stats.drops.Add(d)
	}
	return nil
}

// sendBatch applies subscription messages in place and distributes the
// runs of data messages between them.
func (p *xsubPattern) sendBatch(_ context.Context, msgs []Msg) error {
	start := 0
	flush := func(end int) {
		if end > start {
			if d := p.s.dist.sendBatch(msgs[start:end], false); d > 0 {
				p.s.stats.drops.Add(d)
			}
		}
	}
	for i, m := range msgs {
		if prefix, on, ok := parseSubscription(m); ok {
			flush(i)
			start = i + 1
			if err := p.subscribe(prefix, on); err != nil {
				return err
			}
		}
	}
	flush(len(msgs))
	return nil
}

// sendBatch queues msgs round-robin like send, blocking while no peer has
// room. With one peer, as many as fit are queued under one lock.
func (l *loadBalancer) sendBatch(ctx context.Context, msgs []Msg) error {
	for len(msgs) > 0 {
		var n int
		err := l.waitRoom(ctx, func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			if len(l.conns) == 1 {
				n = l.conns[0].enqueueMany(msgs, l.hwm, nil)
				return n > 0
			}
			for n = 0; n < len(msgs); n++ {
				if _, ok := l.trySend(msgs[n]); !ok {
					break
				}
			}
			return n > 0
		})
		if err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

// enqueueMany queues msgs in order until the queue holds hwm messages (hwm
// <= 0: unbounded), skipping those skip reports true for; it returns how
// many of msgs it consumed (queued or skipped). It never blocks.
func (c *conn) enqueueMany(msgs []Msg, hwm int, skip func(Msg) bool) int {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.closed() {
		return 0
	}
	n := 0
	for ; n < len(msgs); n++ {
		if skip != nil && skip(msgs[n]) {
			continue
		}
		if hwm > 0 && c.queuedLocked() >= hwm {
			break
		}
		c.pushLocked(msgs[n])
	}
	if n > 0 {
		c.kickLocked()
	}
	return n
}

// sendBatch distributes msgs like send, one connection at a time: each
// matching connection queues what fits below the HWM and misses the rest,
// which is counted as dropped.
func (d *distributor) sendBatch(msgs []Msg, filter bool) (drops uint64) {
	for _, c := range d.list() {
		var skip func(Msg) bool
		if filter {
			skip = func(m Msg) bool { return !c.subs.match(m[0]) }
		}
		n := c.enqueueMany(msgs, d.hwm, skip)
		for _, m := range msgs[n:] {
			if skip == nil || !skip(m) {
				drops++
			}
		}
	}
	return drops
}

// roomer is implemented by patterns that drop at the HWM instead of
// blocking (PUB, XPUB), so that Proxy can hold back instead of dropping
// when no peer has room.
type roomer interface {
	// room returns how many messages the peer with the most room can
	// still queue, up to limit.
	room(limit int) int
}

func (p *pubPattern) room(limit int) int { return p.s.dist.room(limit) }

// room returns how many messages the connection with the most room can
// still queue below the HWM, up to limit (limit when unbounded, or when
// there is no connection or one is leaving: then nobody holds messages
// back).
func (d *distributor) room(limit int) int {
	conns := d.list()
	if d.hwm <= 0 || len(conns) == 0 {
		return limit
	}
	best := 0
	for _, c := range conns {
		c.outMu.Lock()
		r := d.hwm - c.queuedLocked()
		closed := c.closed()
		c.outMu.Unlock()
		if closed {
			return limit
		}
		best = max(best, r)
	}
	return min(best, limit)
}
