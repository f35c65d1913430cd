package zmtp

import "bufio"

// Packed send queues. A connection that a PUB, XPUB or XSUB sends to with
// the NULL mechanism queues its messages already framed (RFC 23
// §"Framing") in large byte chunks instead of as Msg values. A message
// queued as a Msg costs the garbage collector three objects with pointers
// for as long as it waits (the queue's slot, the frame slice, the body),
// and an unbounded publisher (ZMQ_SNDHWM 0) can hold millions of them: the
// collector's scans and write barriers then took a quarter of the time of
// a 16 B PUB->SUB stream (BenchmarkThroughput with GOGC=off against the
// default). A packed queue holds no pointer per message; a chunk holds
// thousands of small ones. It is libzmq's idea too: its encoder writes
// small messages (ZMQ_VSM, up to 33 octets) by value.
//
// Only the distributor's connections pack: a PUB drops what a departing
// subscriber never got (libzmq does too), so nothing needs the messages
// back as values, whereas a PUSH or DEALER requeues them (requeue.go).
// CURVE connections do not pack: each message is a box sealed with the
// next nonce as it is written. A Forwarder's messages come as spans of a
// raw receive queue (rawrecv.go) and are queued by reference, in runs
// (pushSpan, rawforward.go).

const (
	// packChunk is the size of a packed queue's chunks, in octets.
	packChunk = 32 << 10
	// packByRef is the smallest frame body queued by reference rather
	// than copied into a chunk. A shorter body copied costs no more
	// memory than the two slice headers that queue one by reference, so a
	// publisher with many subscribers holds no more than with Msg queues;
	// a longer one is shared between the subscribers' queues, written
	// from the sender's own slice as a Msg's would be. (libzmq also keeps
	// short messages by value, up to 33 octets, and shares longer ones.)
	packByRef = 48
	// packKeptSegs is the most entries a segment array kept for reuse may
	// hold (1.5 MiB of slice headers).
	packKeptSegs = 1 << 16
	// packSpares is how many written chunks a connection keeps for reuse.
	packSpares = 4
)

// packedQueue is a connection's packed send queue, guarded by conn.outMu.
// The zero value is an empty queue.
type packedQueue struct {
	// segs are the octets to write, in order: parts of chunks this queue
	// owns, and large bodies by reference. The open segment, cur[mark:],
	// follows them.
	segs [][]byte
	// cur is the chunk that takes the next small frame.
	cur  []byte
	mark int
	// chunks are the chunks this queue filled, for reuse once written.
	chunks [][]byte
	msgs   int    // messages queued
	bytes  uint64 // their bodies' octets (Stats.BytesOut)
	// run is set while segs ends with a run of spans that pushSpan may
	// extend (rawforward.go); the open segment is then empty.
	run bool
	// spares are written chunks, empty, for the next ones; spareSegs is
	// a written queue's segs array, cleared.
	spares    [][]byte
	spareSegs [][]byte
}

// packable reports whether c's messages may be queued packed: its codec
// is plain. The codec is set by the handshake, before c is attached, and
// never changes.
func (c *conn) packable() bool {
	_, plain := c.codec.(plainCodec)
	return plain
}

// push frames m (MORE on all but the last frame) at the end of the queue.
func (q *packedQueue) push(m Msg) {
	q.endRun()
	last := len(m) - 1
	for i, f := range m {
		var fl byte
		if i < last {
			fl = flagMore
		}
		q.bytes += uint64(len(f))
		if len(f) >= packByRef {
			q.reserve(frameHeaderSize(len(f)))
			q.cur = appendFrameHeader(q.cur, fl, len(f))
			q.closeSeg()
			q.segs = append(q.segs, f)
			continue
		}
		q.reserve(frameHeaderSize(len(f)) + len(f))
		q.cur = appendFrame(q.cur, fl, f)
	}
	q.msgs++
}

// reserve makes room for n octets in cur, starting a chunk if it lacks it.
func (q *packedQueue) reserve(n int) {
	if cap(q.cur)-len(q.cur) >= n {
		return
	}
	q.closeSeg()
	q.cur, q.mark = q.newChunk(), 0
	q.chunks = append(q.chunks, q.cur)
}

// closeSeg ends the open segment: what follows goes after it in segs.
func (q *packedQueue) closeSeg() {
	if len(q.cur) > q.mark {
		q.segs = append(q.segs, q.cur[q.mark:len(q.cur):len(q.cur)])
		q.mark = len(q.cur)
	}
}

// newChunk returns an empty chunk, a spare one if there is one.
func (q *packedQueue) newChunk() []byte {
	if n := len(q.spares); n > 0 {
		c := q.spares[n-1]
		q.spares[n-1] = nil
		q.spares = q.spares[:n-1]
		return c
	}
	return make([]byte, 0, packChunk)
}

// take returns the queued octets and counts and empties the queue,
// keeping its spare chunks. Nothing is appended to the returned chunks
// afterwards.
func (q *packedQueue) take() packedQueue {
	q.endRun()
	q.closeSeg()
	out := packedQueue{segs: q.segs, chunks: q.chunks, msgs: q.msgs, bytes: q.bytes}
	segs := q.nextSegs(len(out.segs))
	*q = packedQueue{segs: segs, spares: q.spares, spareSegs: q.spareSegs}
	return out
}

// nextSegs is the empty segment array that replaces one of n entries
// taken by the writer: the spare one when it holds n, else a new one of n
// (at most packKeptSegs), so that a sender that outpaces the writer does
// not regrow it step by step (conn.nextOut does the same for Msg queues).
func (q *packedQueue) nextSegs(n int) [][]byte {
	n = min(n, packKeptSegs)
	if s := q.spareSegs; cap(s) >= n {
		q.spareSegs = nil
		return s
	}
	return make([][]byte, 0, n)
}

// recycle gives the chunks of a written queue back to q (up to
// packSpares), and its segment array unless it is huge, so that a steady
// stream reuses the same few.
func (q *packedQueue) recycle(written packedQueue) {
	if written.segs != nil && cap(written.segs) <= packKeptSegs && cap(written.segs) > cap(q.spareSegs) {
		clear(written.segs)
		q.spareSegs = written.segs[:0]
	}
	for _, c := range written.chunks {
		if len(q.spares) >= packSpares {
			return
		}
		q.spares = append(q.spares, c[:0])
	}
}

// empty reports whether nothing is queued.
func (q *packedQueue) empty() bool { return q.msgs == 0 }

// writeTo passes the queued octets to w and returns how many it passed.
// A segment larger than w's buffer goes straight to the connection when
// w holds nothing (bufio.Writer's own rule): a chunk or a run is written
// by the system call that a smaller one would share with its neighbours,
// which costs more than the copy (a Forwarder's 1 KiB runs written one
// per call took 1.15-1.45x as long in BenchmarkProxy).
func (q *packedQueue) writeTo(w *bufio.Writer) (int, error) {
	total := 0
	for _, seg := range q.segs {
		n, err := w.Write(seg)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
