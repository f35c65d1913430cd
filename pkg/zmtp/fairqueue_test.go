package zmtp

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestFairQueuePushReportsAWaitingReceiver checks what the reader's
// hand-off relies on (conn.readLoop yields to the receiver it woke): push
// reports woke only when a receiver was waiting for messages, and that
// receiver gets the batch.
func TestFairQueuePushReportsAWaitingReceiver(t *testing.T) {
	closing := make(chan struct{})
	defer close(closing)
	q := newFairQueue(0, closing)
	c := &conn{space: make(chan struct{}, 1), done: make(chan struct{})}

	if ok, woke := q.push(c, []Msg{{[]byte("a")}}); !ok || woke {
		t.Fatalf("push with nobody receiving: ok %v woke %v, want ok and not woke", ok, woke)
	}
	if _, m, err := q.pop(context.Background()); err != nil || !bytes.Equal(m[0], []byte("a")) {
		t.Fatalf("pop: %q, %v; want the queued message", m, err)
	}
	if ok, woke := q.push(c, nil); !ok || woke {
		t.Fatalf("push of an empty batch: ok %v woke %v, want ok and not woke", ok, woke)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
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
	if ok, woke := q.push(c, []Msg{{[]byte("b")}}); !ok || !woke {
		t.Fatalf("push with a receiver waiting: ok %v woke %v, want both", ok, woke)
	}
	if m := <-got; len(m) != 1 || !bytes.Equal(m[0], []byte("b")) {
		t.Fatalf("the waiting receiver got %q, want the pushed message", m)
	}
}
