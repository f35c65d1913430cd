package zmtp

// msgChunkLen is the number of messages in one chunk of a msgQueue: 63
// slots and the link make 1,520 octets, within the allocator's 1,536-octet
// size class, so a connection's queue costs 1.5 KiB (3 KiB with the
// spare), and a long queue takes one allocation per 63 messages.
const msgChunkLen = 63

// msgChunk is one fixed-size block of a msgQueue.
type msgChunk struct {
	msgs [msgChunkLen]Msg
	next *msgChunk
}

// msgQueue is a FIFO of messages kept in a list of fixed-size chunks, as
// libzmq's yqueue_t keeps a pipe's messages: a push never moves what is
// already queued, however long the queue grows (an unbounded HWM), where
// a slice would copy all of it at every doubling and leave the old array
// to the collector. A drained chunk is kept as a spare for the next one,
// so a queue that fills and empties in turn allocates nothing.
//
// A msgQueue is not safe for concurrent use; its owner's lock guards it.
// The zero value is an empty queue.
type msgQueue struct {
	head, tail *msgChunk
	headPos    int // next slot to pop in head
	tailPos    int // next free slot in tail
	n          int
	spare      *msgChunk
}

// len returns the number of queued messages.
func (q *msgQueue) len() int { return q.n }

// push appends m.
func (q *msgQueue) push(m Msg) {
	if q.tail == nil || q.tailPos == msgChunkLen {
		q.grow()
	}
	q.tail.msgs[q.tailPos] = m
	q.tailPos++
	q.n++
}

// pushAll appends msgs in order.
func (q *msgQueue) pushAll(msgs []Msg) {
	for len(msgs) > 0 {
		if q.tail == nil || q.tailPos == msgChunkLen {
			q.grow()
		}
		k := copy(q.tail.msgs[q.tailPos:], msgs)
		q.tailPos += k
		q.n += k
		msgs = msgs[k:]
	}
}

// grow links a new tail chunk, the spare one if there is one.
func (q *msgQueue) grow() {
	c := q.spare
	if c != nil {
		q.spare = nil
	} else {
		c = new(msgChunk)
	}
	if q.tail == nil {
		q.head, q.headPos = c, 0
	} else {
		q.tail.next = c
	}
	q.tail, q.tailPos = c, 0
}

// pop removes and returns the oldest message; ok is false if q is empty.
// The slot is cleared, so the queue keeps no reference to the message.
func (q *msgQueue) pop() (m Msg, ok bool) {
	if q.n == 0 {
		return nil, false
	}
	m = q.head.msgs[q.headPos]
	q.head.msgs[q.headPos] = nil
	q.headPos++
	q.n--
	switch {
	case q.n == 0:
		// Empty: keep the one chunk and start it over.
		q.head.next = nil
		q.tail = q.head
		q.headPos, q.tailPos = 0, 0
	case q.headPos == msgChunkLen:
		done := q.head
		q.head, q.headPos = done.next, 0
		done.next = nil
		q.spare = done
	}
	return m, true
}
