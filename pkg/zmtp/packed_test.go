package zmtp

import (
	"bufio"
	"bytes"
	"testing"
)

// packedCases are messages around every boundary of a packed queue: empty
// and one-frame messages, the short/long frame header (255/256 octets),
// multipart, bodies just below and at packByRef, and enough of them to
// span several chunks.
func packedCases() []Msg {
	body := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	msgs := []Msg{
		{},
		{nil},
		{body(1, 'a')},
		{body(255, 'b')},
		{body(256, 'c')},
		{body(3, 'd'), nil, body(300, 'e')},
		{body(packByRef-1, 'f')},
		{body(packByRef, 'g')},
		{body(2, 'h'), body(packByRef+5, 'i'), body(7, 'j')},
		{body(packChunk-1, 'k')},
	}
	for i := 0; i < 5000; i++ {
		msgs = append(msgs, Msg{body(16, byte(i)), body(i%40, byte(i>>8))})
	}
	return msgs
}

// wireOf is what writeMsg puts on the wire for msgs, the reference the
// packed queue must match octet for octet.
func wireOf(t *testing.T, msgs []Msg) []byte {
	t.Helper()
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	for _, m := range msgs {
		if err := writeMsg(w, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// writePacked writes q as a connection's writer does: through a buffered
// writer, large segments straight to the destination when the buffer is
// empty.
func writePacked(t *testing.T, q packedQueue) []byte {
	t.Helper()
	var out bytes.Buffer
	w := bufio.NewWriterSize(&out, 64)
	n, err := q.writeTo(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if n != out.Len() {
		t.Fatalf("writeTo returned %d octets, wrote %d", n, out.Len())
	}
	return out.Bytes()
}

func TestPackedQueueFramesLikeWriteMsg(t *testing.T) {
	msgs := packedCases()
	var q packedQueue
	var size uint64
	for _, m := range msgs {
		q.push(m)
		size += uint64(m.Size())
	}
	taken := q.take()
	if taken.msgs != len(msgs) || taken.bytes != size {
		t.Fatalf("counted %d messages, %d octets; want %d, %d", taken.msgs, taken.bytes, len(msgs), size)
	}
	if !q.empty() || taken.empty() {
		t.Fatalf("after take: queue empty %v, taken empty %v", q.empty(), taken.empty())
	}
	if got, want := writePacked(t, taken), wireOf(t, msgs); !bytes.Equal(got, want) {
		t.Fatalf("packed wire differs from writeMsg's: %d octets vs %d", len(got), len(want))
	}
}

// A queue refilled while the writer holds what it took, and again from
// recycled chunks, never writes over octets not yet written.
func TestPackedQueueReusesOnlyWrittenChunks(t *testing.T) {
	msgs := packedCases()
	others := make([]Msg, len(msgs))
	for i, m := range msgs {
		others[i] = Msg{bytes.Repeat([]byte{'z'}, m.Size()%packByRef)}
	}
	var q packedQueue
	for _, m := range msgs {
		q.push(m)
	}
	first := q.take()
	// The writer has not written first yet: the queue fills on.
	for _, m := range others {
		q.push(m)
	}
	if got := writePacked(t, first); !bytes.Equal(got, wireOf(t, msgs)) {
		t.Fatal("a chunk taken by the writer changed before it was written")
	}
	q.recycle(first)
	if len(q.spares) == 0 || len(q.spares) > packSpares {
		t.Fatalf("%d spare chunks after recycling, want 1..%d", len(q.spares), packSpares)
	}
	second := q.take()
	for _, m := range msgs {
		q.push(m) // into the recycled chunks
	}
	if got := writePacked(t, second); !bytes.Equal(got, wireOf(t, others)) {
		t.Fatal("the queue wrote over a taken chunk from a recycled one")
	}
	if got := writePacked(t, q.take()); !bytes.Equal(got, wireOf(t, msgs)) {
		t.Fatal("a queue filled from spare chunks wrote other octets")
	}
}

// A body of packByRef octets or more is queued by reference, so that a
// publisher's subscribers share it as they shared a Msg's; a shorter one
// is copied.
func TestPackedQueueSharesLongBodies(t *testing.T) {
	long, short := bytes.Repeat([]byte{'l'}, packByRef), bytes.Repeat([]byte{'s'}, packByRef-1)
	var q packedQueue
	q.push(Msg{short, long})
	taken := q.take()
	var shared, refShort, hasShort bool
	for _, seg := range taken.segs {
		if len(seg) == 0 {
			continue
		}
		shared = shared || &seg[0] == &long[0]
		refShort = refShort || &seg[0] == &short[0]
		hasShort = hasShort || bytes.Contains(seg, short)
	}
	copied := hasShort && !refShort
	if !shared {
		t.Errorf("a %d-octet body was copied, want it queued by reference", len(long))
	}
	if !copied {
		t.Errorf("a %d-octet body was not copied into a chunk", len(short))
	}
}
