package zmtp

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// TestFairQueuePushHandoff checks when push tells a reader to yield
// (conn.readLoop): only while a receiver waits for messages and the
// reader's queue, unbounded or above handoffLen, holds handoffLen of them;
// never with nobody receiving however long the queue, nor at a smaller
// HWM; and the waiting receiver gets the messages in order.
func TestFairQueuePushHandoff(t *testing.T) {
	closing := make(chan struct{})
	defer close(closing)
	q := newFairQueue(0, closing) // unbounded, as a device's burst runs
	newConn := func() *conn { return &conn{space: make(chan struct{}, 1), done: make(chan struct{})} }
	c := newConn()
	batch := func(from, n int) []Msg {
		b := make([]Msg, n)
		for i := range b {
			b[i] = Msg{[]byte(fmt.Sprint(from + i))}
		}
		return b
	}

	if ok, handoff := q.push(c, nil); !ok || handoff {
		t.Fatalf("push of an empty batch: ok %v handoff %v, want ok only", ok, handoff)
	}
	if ok, handoff := q.push(c, batch(0, 2*handoffLen)); !ok || handoff {
		t.Fatalf("push of %d messages with nobody receiving: ok %v handoff %v, want ok only", 2*handoffLen, ok, handoff)
	}
	for i := 0; i < 2*handoffLen; i++ {
		if _, m, err := q.pop(context.Background()); err != nil || string(m[0]) != fmt.Sprint(i) {
			t.Fatalf("pop %d: %q, %v; want message %d", i, m, err, i)
		}
	}

	// A receiver waiting in popUntil counts in q.waiters from when it
	// starts waiting until it runs again after a signal: two pushes in
	// that time, the second filling the queue to handoffLen.
	q.mu.Lock()
	q.waiters++
	q.mu.Unlock()
	if ok, handoff := q.push(c, batch(0, handoffLen-1)); !ok || handoff {
		t.Fatalf("push of %d messages with a receiver waiting: ok %v handoff %v, want ok only", handoffLen-1, ok, handoff)
	}
	if ok, handoff := q.push(c, batch(handoffLen-1, 1)); !ok || !handoff {
		t.Fatalf("push to %d queued with a receiver waiting: ok %v handoff %v, want both", handoffLen, ok, handoff)
	}
	select {
	case <-q.notify:
	default:
		t.Fatal("the waiting receiver was not signalled")
	}
	q.mu.Lock()
	q.waiters--
	q.mu.Unlock()

	// At an HWM no larger than handoffLen the reader blocks at the HWM
	// instead, handing off: push never asks it to yield.
	bounded := newFairQueue(handoffLen, closing)
	bounded.waiters++
	if ok, handoff := bounded.push(newConn(), batch(0, handoffLen)); !ok || handoff {
		t.Fatalf("push to a queue at its HWM %d with a receiver waiting: ok %v handoff %v, want ok only", handoffLen, ok, handoff)
	}

	// A real receiver, waiting, gets what a push queues, first to last.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < handoffLen; i++ {
		if _, m, err := q.pop(ctx); err != nil || string(m[0]) != fmt.Sprint(i) {
			t.Fatalf("pop %d: %q, %v; want message %d", i, m, err, i)
		}
	}
	got := make(chan Msg, 1)
	go func() {
		_, m, err := q.pop(ctx)
		if err != nil {
			m = nil
		}
		got <- m
	}()
	for waiting := false; !waiting; {
		q.mu.Lock()
		waiting = q.waiters > 0
		q.mu.Unlock()
		if ctx.Err() != nil {
			t.Fatal("the receiver never started waiting")
		}
		time.Sleep(time.Millisecond)
	}
	if ok, _ := q.push(c, []Msg{{[]byte("last")}}); !ok {
		t.Fatal("push refused")
	}
	if m := <-got; len(m) != 1 || !bytes.Equal(m[0], []byte("last")) {
		t.Fatalf("the waiting receiver got %q, want the pushed message", m)
	}
}
