package controllers

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) step(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock            { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func testChild(topology, name string) childKey {
	return childKey{topology: types.NamespacedName{Namespace: "ns", Name: topology}, kind: render.KindService, name: name}
}

func TestChildBackoffDoublesToMaxAndResets(t *testing.T) {
	clock := newFakeClock()
	b := newChildBackoff(clock.now)
	k := testChild("t", "t-x")
	boom := errors.New("boom")

	if f, _ := b.waiting(k, 1); f != nil {
		t.Fatalf("a child that never failed waits: %+v", f)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i, w := range want {
		f, period := b.failed(k, 1, boom, false)
		if period != w*time.Second {
			t.Fatalf("failure %d: period %s, want %s", i+1, period, w*time.Second)
		}
		if f.failures != i+1 {
			t.Fatalf("failure %d: counted %d", i+1, f.failures)
		}
		// Waiting until just before the period ends, then free.
		clock.step(period - time.Millisecond)
		f, left := b.waiting(k, 1)
		if f == nil || left != time.Millisecond || !errors.Is(f.err, boom) {
			t.Fatalf("failure %d: waiting = %+v, %s; want the failure and 1ms left", i+1, f, left)
		}
		clock.step(time.Millisecond)
		if f, _ := b.waiting(k, 1); f != nil {
			t.Fatalf("failure %d: still waiting after the period", i+1)
		}
	}

	// A success clears the record: the next failure starts over at 1 s.
	b.succeeded(k)
	if _, period := b.failed(k, 1, boom, false); period != time.Second {
		t.Fatalf("after success: period %s, want 1s", period)
	}
}

func TestChildBackoffPersistence(t *testing.T) {
	clock := newFakeClock()
	b := newChildBackoff(clock.now)
	k := testChild("t", "t-x")
	transient := errors.New("etcd timeout")

	f, _ := b.failed(k, 1, transient, false)
	if b.persistent(f) {
		t.Fatal("one transient failure is persistent")
	}
	f, _ = b.failed(k, 1, transient, false)
	if b.persistent(f) {
		t.Fatal("two transient failures are persistent")
	}
	f, _ = b.failed(k, 1, transient, false)
	if !b.persistent(f) {
		t.Fatalf("three consecutive failures are not persistent")
	}

	// One failure that has lasted a minute is persistent too.
	k2 := testChild("t", "t-y")
	f, _ = b.failed(k2, 1, transient, false)
	clock.step(stalledAfter)
	if !b.persistent(f) {
		t.Fatal("a failure lasting a minute is not persistent")
	}

	// A refusal is persistent at once: the same request fails again.
	f, _ = b.failed(testChild("t", "t-z"), 1, transient, true)
	if !b.persistent(f) {
		t.Fatal("a refusal is not persistent")
	}
}

func TestChildBackoffForgetsOtherGenerationsAndDeletedTopologies(t *testing.T) {
	clock := newFakeClock()
	b := newChildBackoff(clock.now)
	boom := errors.New("boom")
	a1, a2, other := testChild("a", "a-1"), testChild("a", "a-2"), testChild("b", "b-1")
	for _, k := range []childKey{a1, a2, other} {
		b.failed(k, 1, boom, false)
		b.failed(k, 1, boom, false)
	}

	// A new generation of the topology is tried at once, and its first
	// failure starts over at 1 s.
	if f, _ := b.waiting(a1, 2); f != nil {
		t.Fatal("a new generation waits out the old one's backoff")
	}
	if _, period := b.failed(a2, 2, boom, false); period != time.Second {
		t.Fatalf("first failure of a new generation: period %s, want 1s", period)
	}
	if n := b.len(); n != 2 {
		t.Fatalf("%d records, want 2: the new failure of a-2 and topology b's (a-1's old one is moot)", n)
	}

	b.forget(types.NamespacedName{Namespace: "ns", Name: "a"})
	if n := b.len(); n != 1 {
		t.Fatalf("after forgetting topology a: %d records, want 1 (topology b's)", n)
	}
	if f, _ := b.waiting(other, 1); f == nil {
		t.Fatal("forgetting topology a dropped topology b's record")
	}
}
