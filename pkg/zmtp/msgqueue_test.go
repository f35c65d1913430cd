package zmtp

import (
	"fmt"
	"testing"
	"unsafe"
)

// TestMsgQueueFIFO pushes and pops across chunk boundaries in uneven
// steps, checking order, length, that popped slots are cleared, and that a
// queue that empties reuses its chunks.
func TestMsgQueueFIFO(t *testing.T) {
	var q msgQueue
	if _, ok := q.pop(); ok || q.len() != 0 {
		t.Fatal("the zero queue is not empty")
	}
	next, want := 0, 0
	msg := func(i int) Msg { return Msg{[]byte(fmt.Sprint(i))} }
	for round, step := range []struct{ push, pop int }{
		{1, 1}, {msgChunkLen, msgChunkLen - 1}, {3*msgChunkLen + 5, 2 * msgChunkLen}, {msgChunkLen - 1, 0}, {0, 2*msgChunkLen + 5},
	} {
		if step.push%2 == 0 {
			for range step.push {
				q.push(msg(next))
				next++
			}
		} else {
			batch := make([]Msg, step.push)
			for i := range batch {
				batch[i] = msg(next)
				next++
			}
			q.pushAll(batch)
		}
		for range step.pop {
			m, ok := q.pop()
			if !ok || string(m[0]) != fmt.Sprint(want) {
				t.Fatalf("round %d: popped %q, %v; want %d", round, m, ok, want)
			}
			want++
		}
		if q.len() != next-want {
			t.Fatalf("round %d: len %d, want %d", round, q.len(), next-want)
		}
	}
	if _, ok := q.pop(); ok {
		t.Fatal("popped from an empty queue")
	}
	for c := q.head; c != nil; c = c.next {
		for i, m := range c.msgs {
			if m != nil {
				t.Fatalf("slot %d still holds %q after its pop", i, m)
			}
		}
	}
	// Filling and emptying a drained queue allocates nothing.
	if n := testing.AllocsPerRun(100, func() {
		for range 2 * msgChunkLen {
			q.push(Msg{})
		}
		for range 2 * msgChunkLen {
			q.pop()
		}
	}); n != 0 {
		t.Fatalf("%v allocations per fill and drain of two chunks, want 0", n)
	}
	// One chunk stays within the allocator's 1,536-octet size class
	// (msgChunkLen's comment).
	if size := unsafe.Sizeof(msgChunk{}); size > 1536 {
		t.Fatalf("a chunk is %d octets, over the 1,536-octet size class", size)
	}
}
