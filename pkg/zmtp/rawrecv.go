package zmtp

import (
	"bufio"
	"encoding/binary"
)

// Raw receive queues. A connection of an XSUB socket (a Forwarder's
// frontend) with the plain codec queues the messages it receives as their
// frames arrived (RFC 23 §"Framing"), copied from the read buffer into
// large byte chunks (packChunk octets, or one message's size when it is
// larger), instead of as Msg values. Forward then hands those octets to
// the NULL-mechanism subscribers' send queues of a PUB or XPUB by
// reference (packedQueue's pushSpan): a message is copied once into the
// receive chunk, and once into each subscriber's write buffer as any
// message is, and no Msg is built for it, where as a Msg it cost a body, a
// frame slice and a queue slot, each a first write to fresh memory while a
// backlog grows, and three objects for the garbage collector. Recv, a
// hook, or a CURVE subscriber gets a Msg built from the octets when taken
// (spanMsg: the frame slice is allocated, the bodies are shared).
//
// Only whole messages of frames up to slabMaxFrame octets that are
// already buffered take the fast path (rawBuilder.readBuffered); any other
// message is read as before and then queued framed anew (addMsg), or, with
// a frame over slabMaxFrame or in all over packChunk octets, as a Msg
// behind a one-octet marker record.

// rawMarker is the record of a message queued as a Msg in rawQueue.side.
// Its reserved flag bits are set, so no frame starts with it
// (checkHeaderCmd refuses such frames).
const rawMarker = 0xff

// rawIncomer is implemented by patterns whose connections queue raw
// (XSUB): keep reports whether a message whose first frame's body is
// topic is queued, as incoming would.
type rawIncomer interface {
	keep(topic []byte) bool
}

func (p *xsubPattern) keep(topic []byte) bool { return p.subs.match(topic) }

// rawFrame decodes the frame at the start of b, which a reader validated
// whole: its flags, body and length in octets.
func rawFrame(b []byte) (flags byte, body []byte, n int) {
	flags = b[0]
	if flags&flagLong != 0 {
		size := int(binary.BigEndian.Uint64(b[1:9]))
		return flags, b[9 : 9+size : 9+size], 9 + size
	}
	size := int(b[1])
	return flags, b[2 : 2+size : 2+size], 2 + size
}

// spanInfo returns the length in octets of the message whose frames start
// b, its first frame's body and the octets of all its bodies.
func spanInfo(b []byte) (n int, topic []byte, size int) {
	for first := true; ; first = false {
		flags, body, fn := rawFrame(b[n:])
		if first {
			topic = body
		}
		n += fn
		size += len(body)
		if flags&flagMore == 0 {
			return n, topic, size
		}
	}
}

// spanMsg returns the message framed in span as a Msg whose frames share
// span's octets.
func spanMsg(span []byte) Msg {
	k := 0
	for i := 0; i < len(span); k++ {
		_, _, fn := rawFrame(span[i:])
		i += fn
	}
	m := make(Msg, k)
	for i, j := 0, 0; j < k; j++ {
		_, body, fn := rawFrame(span[i:])
		m[j] = body
		i += fn
	}
	return m
}

// rawMsg is one message taken from a fair queue for Forward: its frames'
// octets as received (span), or a Msg (m) for one that was not queued
// raw; topic is its first frame's body and size the octets of its bodies.
type rawMsg struct {
	span  []byte
	m     Msg
	topic []byte
	size  int
}

// msgRaw returns m as a rawMsg that carries it as a Msg.
func msgRaw(m Msg) rawMsg {
	r := rawMsg{m: m, size: m.Size()}
	if len(m) > 0 {
		r.topic = m[0]
	}
	return r
}

// msg returns r as a Msg, built from span if it has none (an allocation
// of the frame slice; the bodies share span's octets).
func (r *rawMsg) msg() Msg {
	if r.m == nil {
		r.m = spanMsg(r.span)
	}
	return r.m
}

// rawQueue is a connection's raw receive queue, guarded by the socket's
// fairQueue mutex: records (the frames of one message, or rawMarker) in
// segments of chunks the connection's reader filled and no longer
// writes. The zero value is an empty queue.
type rawQueue struct {
	segs [][]byte // from segs[head], oldest first
	head int
	off  int // read offset in segs[head]
	n    int // messages queued
	side msgQueue
}

func (q *rawQueue) len() int { return q.n }

// push appends the records a reader published: segs holds n messages'
// records, in order, and side the Msgs of its marker records, in order.
func (q *rawQueue) push(segs [][]byte, side []Msg, n int) {
	q.segs = append(q.segs, segs...)
	q.side.pushAll(side)
	q.n += n
}

// pop removes the oldest message: its span, or its Msg for a marker
// record; ok is false if q is empty.
func (q *rawQueue) pop() (r rawMsg, ok bool) {
	if q.n == 0 {
		return rawMsg{}, false
	}
	seg := q.segs[q.head][q.off:]
	var n int
	if seg[0] == rawMarker {
		m, _ := q.side.pop()
		r, n = msgRaw(m), 1
	} else {
		n, r.topic, r.size = spanInfo(seg)
		r.span = seg[:n] // its capacity runs on in the chunk: pushSpan
	}
	q.n--
	q.off += n
	if q.off == len(q.segs[q.head]) {
		q.segs[q.head] = nil
		q.head++
		q.off = 0
		switch {
		case q.head == len(q.segs):
			q.segs, q.head = q.segs[:0], 0
		case q.head >= 64 && 2*q.head >= len(q.segs):
			k := copy(q.segs, q.segs[q.head:])
			clear(q.segs[k:])
			q.segs, q.head = q.segs[:k], 0
		}
	}
	return r, true
}

// rawBuilder is a reader's records not yet handed to the fair queue. It
// appends to the chunk cur from mark; a chunk, once published up to some
// point, is never written below it again, so consumers read published
// records while the reader appends after them.
type rawBuilder struct {
	cur  []byte
	mark int
	segs [][]byte // published segments, for the next push
	side []Msg
	msgs int
}

// reserve makes room for n octets in cur, closing the open segment and
// starting a chunk if it lacks it.
func (b *rawBuilder) reserve(n int) {
	if cap(b.cur)-len(b.cur) >= n {
		return
	}
	b.closeSeg()
	b.cur, b.mark = make([]byte, 0, max(packChunk, n)), 0
}

// closeSeg ends the open segment, cur[mark:]. The segment's capacity
// runs to the chunk's end, so that the send queues can see that the
// records of successive segments follow each other (pushSpan); nobody
// reads past a segment's length.
func (b *rawBuilder) closeSeg() {
	if len(b.cur) > b.mark {
		b.segs = append(b.segs, b.cur[b.mark:len(b.cur)])
		b.mark = len(b.cur)
	}
}

// addMsg queues a message the reader decoded: framed anew when its frames
// are small and it fits a chunk, else as a marker record and the Msg.
func (b *rawBuilder) addMsg(m Msg) {
	n := 0
	for _, f := range m {
		if len(f) > slabMaxFrame {
			n = -1
			break
		}
		n += frameHeaderSize(len(f)) + len(f)
	}
	if n <= 0 || n > packChunk { // a large frame or message, or no frame
		b.reserve(1)
		b.cur = append(b.cur, rawMarker)
		b.side = append(b.side, m)
		b.msgs++
		return
	}
	b.reserve(n)
	for i, f := range m {
		var fl byte
		if i < len(m)-1 {
			fl = flagMore
		}
		b.cur = appendFrame(b.cur, fl, f)
	}
	b.msgs++
}

// take closes the open segment and returns what push needs; the slices
// are b's, valid until reset.
func (b *rawBuilder) take() (segs [][]byte, side []Msg, n int) {
	b.closeSeg()
	return b.segs, b.side, b.msgs
}

// reset empties b after a push, keeping its arrays and chunk.
func (b *rawBuilder) reset() {
	clear(b.segs)
	clear(b.side)
	b.segs, b.side, b.msgs = b.segs[:0], b.side[:0], 0
}

// readBuffered copies into b the whole messages at the start of r's
// buffer, up to room of them, as long as each is made of data frames of
// up to slabMaxFrame octets and its bodies fit maxMsg octets (< 0:
// unlimited); keep decides which are queued. It stops at anything else (a
// command, a partial or large frame, a framing error), consuming nothing
// of that message: the caller reads it frame by frame, which reports the
// error. It returns how many messages it consumed from r, kept or not,
// and the octets of their bodies (the reader's Stats.BytesIn, as for a
// message it decodes).
func (b *rawBuilder) readBuffered(r *bufio.Reader, maxMsg int64, keep rawIncomer, room int) (consumed int, bytes uint64) {
	buf, _ := r.Peek(r.Buffered()) // buffered: no read, no error
	pos := 0
	for consumed < room {
		start, size := pos, int64(0)
		var topic []byte
		whole := false
		for first := true; ; first = false {
			limit := int64(-1)
			if maxMsg >= 0 {
				limit = maxMsg - size
			}
			flags, body, n, err := parseFrameCmd(buf[pos:], limit, maxCommandSize)
			if err != nil || flags&flagCommand != 0 || len(body) > slabMaxFrame {
				break
			}
			if first {
				topic = body
			}
			pos += n
			size += int64(len(body))
			if flags&flagMore == 0 {
				whole = true
				break
			}
		}
		if !whole {
			pos = start
			break
		}
		consumed++
		bytes += uint64(size)
		if keep.keep(topic) {
			b.reserve(pos - start)
			b.cur = append(b.cur, buf[start:pos]...)
			b.msgs++
		}
	}
	_, _ = r.Discard(pos)
	return consumed, bytes
}
