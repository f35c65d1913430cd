package zmtp

import "testing"

// TestNextOutKeepsOrSizesTheQueue checks the queue that replaces a batch
// taken by the writer: empty, the spare array when it is large enough,
// otherwise a new array that holds as many messages as the batch, but
// never more than a kept queue may hold.
func TestNextOutKeepsOrSizesTheQueue(t *testing.T) {
	s := &Socket{opts: options{sendHWM: 1000}}
	c := &conn{s: s, spare: make([]Msg, 3, 8)}
	q := c.nextOut(8)
	if len(q) != 0 || cap(q) != 8 || &q[:1][0] != &c.spare[:1][0] {
		t.Fatalf("nextOut(8) with a spare of 8: len %d cap %d, want the spare's array, empty", len(q), cap(q))
	}
	q = c.nextOut(100)
	if len(q) != 0 || cap(q) < 100 {
		t.Fatalf("nextOut(100) with a spare of 8: len %d cap %d, want empty with room for 100", len(q), cap(q))
	}
	if q = c.nextOut(10 << 20); cap(q) != 1<<16 {
		t.Fatalf("nextOut(10 Mi) with SNDHWM 1000: cap %d, want the kept maximum %d", cap(q), 1<<16)
	}
	s.opts.sendHWM = 100_000
	if q = c.nextOut(10 << 20); cap(q) != 200_000 {
		t.Fatalf("nextOut(10 Mi) with SNDHWM 100000: cap %d, want 2*SNDHWM", cap(q))
	}
	c.spare = nil
	if q = c.nextOut(0); len(q) != 0 {
		t.Fatalf("nextOut(0) without a spare: len %d, want 0", len(q))
	}
}
