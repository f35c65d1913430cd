package controllers

import (
	"maps"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// Child failure backoff. A child that the API server refuses, or that cannot
// be written for any other reason, is not tried again before its backoff
// period has passed, whatever triggers the reconcile: a watch event on
// another child would otherwise re-run the failing write at once, and two
// writers fighting over one object would loop as fast as the API server
// answers. The period starts at backoffInitial and doubles with each
// consecutive failure up to backoffMax; a success, a new generation of the
// topology or its deletion clears it.
const (
	backoffInitial = time.Second
	backoffMax     = 5 * time.Minute

	// A child is failing persistently, which sets Stalled=True, after
	// stalledFailures consecutive failures or when it has been failing for
	// stalledAfter.
	stalledFailures = 3
	stalledAfter    = time.Minute
)

// childKey identifies one child of one topology.
type childKey struct {
	topology types.NamespacedName
	kind     render.Kind
	name     string
}

// childFailure is the failure record of one child.
type childFailure struct {
	generation int64 // of the topology when the child failed
	failures   int   // consecutive
	first      time.Time
	retryAt    time.Time
	err        error // the last one, reported while waiting
	refused    bool  // err is a refusal (InvalidSpec), not a transient error
}

// persistent says whether the failure has lasted long enough to call the
// topology stalled.
func (f *childFailure) persistent(now time.Time) bool {
	return f.refused || f.failures >= stalledFailures || now.Sub(f.first) >= stalledAfter
}

// childBackoff holds the failure records of children, shared by the
// reconciles of all topologies (it is safe for concurrent use). Its clock is
// replaceable so that tests need not sleep.
type childBackoff struct {
	now     func() time.Time
	mu      sync.Mutex
	entries map[childKey]*childFailure
}

func newChildBackoff(now func() time.Time) *childBackoff {
	return &childBackoff{now: now, entries: map[childKey]*childFailure{}}
}

// waiting returns the child's failure record while its backoff period for
// this generation of the topology lasts, and how long it still lasts; nil
// when the child may be written now. A record of an older generation is
// dropped: a new spec deserves an immediate attempt.
func (b *childBackoff) waiting(k childKey, generation int64) (*childFailure, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.entries[k]
	if !ok {
		return nil, 0
	}
	if f.generation != generation {
		delete(b.entries, k)
		return nil, 0
	}
	if left := f.retryAt.Sub(b.now()); left > 0 {
		c := *f
		return &c, left
	}
	return nil, 0
}

// failed records a failed attempt at writing the child and returns its new
// record and the backoff period before the next attempt.
func (b *childBackoff) failed(k childKey, generation int64, err error, refused bool) (*childFailure, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	// Records of the topology's older generations are moot (children of a
	// removed component would otherwise stay until the topology goes).
	for other, f := range b.entries {
		if other.topology == k.topology && f.generation != generation {
			delete(b.entries, other)
		}
	}
	f, ok := b.entries[k]
	if !ok {
		f = &childFailure{generation: generation, first: now}
		b.entries[k] = f
	}
	f.failures++
	f.err, f.refused = err, refused
	period := backoffInitial << min(f.failures-1, 30)
	if period > backoffMax || period <= 0 {
		period = backoffMax
	}
	f.retryAt = now.Add(period)
	c := *f
	return &c, period
}

// succeeded clears the child's record.
func (b *childBackoff) succeeded(k childKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, k)
}

// persistent says whether the failure f, returned by waiting or failed,
// counts as persistent now.
func (b *childBackoff) persistent(f *childFailure) bool {
	return f.persistent(b.now())
}

// forget drops every record of a topology, when it is deleted.
func (b *childBackoff) forget(topology types.NamespacedName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	maps.DeleteFunc(b.entries, func(k childKey, _ *childFailure) bool { return k.topology == topology })
}

// len is the number of records, for tests.
func (b *childBackoff) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}
