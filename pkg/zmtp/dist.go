package zmtp

import (
	"sort"
	"sync"
	"sync/atomic"
)

// distributor is the send side of PUB, XPUB and XSUB (libzmq's dist_t): a
// message goes to every matching connection; a connection whose queue is at
// the send HWM misses the message and the drop is counted, so one slow
// subscriber never slows the others.
type distributor struct {
	mu    sync.Mutex
	conns atomic.Pointer[[]*conn]
	hwm   int
}

// add attaches c; its messages are queued packed from now on when its
// codec allows (packed.go).
func (d *distributor) add(c *conn) {
	c.outMu.Lock()
	c.pack = c.packable()
	c.outMu.Unlock()
	d.mu.Lock()
	var next []*conn
	if p := d.conns.Load(); p != nil {
		next = append(next, *p...)
	}
	next = append(next, c)
	d.conns.Store(&next)
	d.mu.Unlock()
}

func (d *distributor) remove(c *conn) {
	d.mu.Lock()
	if p := d.conns.Load(); p != nil {
		next := make([]*conn, 0, len(*p))
		for _, x := range *p {
			if x != c {
				next = append(next, x)
			}
		}
		d.conns.Store(&next)
	}
	d.mu.Unlock()
}

// list returns the current connections (do not modify).
func (d *distributor) list() []*conn {
	if p := d.conns.Load(); p != nil {
		return *p
	}
	return nil
}

// send queues m on every connection whose subscriptions match its first
// frame (all connections if !filter) and returns how many were dropped.
func (d *distributor) send(m Msg, filter bool) (drops uint64) {
	var topic []byte
	if len(m) > 0 {
		topic = m[0]
	}
	for _, c := range d.list() {
		if filter && !c.subs.match(topic) {
			continue
		}
		if !c.enqueue(m, d.hwm) {
			drops++
		}
	}
	return drops
}

// subscriptions is a counted set of prefixes with an immutable snapshot for
// lock-free matching on the hot path. Updates are rare; matching is per
// message.
type subscriptions struct {
	mu     sync.Mutex
	counts map[string]int
	snap   atomic.Pointer[subSnapshot]
}

type subSnapshot struct {
	all      bool // the empty prefix: everything matches
	prefixes []string
}

// add counts one subscription to prefix and reports whether it is new.
func (s *subscriptions) add(prefix []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = map[string]int{}
	}
	s.counts[string(prefix)]++
	if s.counts[string(prefix)] == 1 {
		s.rebuild()
		return true
	}
	return false
}

// remove drops one subscription to prefix and reports whether it was the
// last one.
func (s *subscriptions) remove(prefix []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.counts[string(prefix)]
	if !ok {
		return false
	}
	if n > 1 {
		s.counts[string(prefix)] = n - 1
		return false
	}
	delete(s.counts, string(prefix))
	s.rebuild()
	return true
}

// removeAll clears the set and returns the distinct prefixes it held.
func (s *subscriptions) removeAll() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.counts))
	for p := range s.counts {
		out = append(out, p)
	}
	s.counts = nil
	s.rebuild()
	sort.Strings(out)
	return out
}

// list returns the distinct prefixes.
func (s *subscriptions) list() []string {
	if sn := s.snap.Load(); sn != nil {
		out := append([]string(nil), sn.prefixes...)
		if sn.all {
			out = append(out, "")
		}
		return out
	}
	return nil
}

func (s *subscriptions) rebuild() {
	sn := &subSnapshot{}
	for p := range s.counts {
		if p == "" {
			sn.all = true
			continue
		}
		sn.prefixes = append(sn.prefixes, p)
	}
	sort.Strings(sn.prefixes)
	s.snap.Store(sn)
}

// match reports whether b starts with any subscribed prefix.
func (s *subscriptions) match(b []byte) bool {
	sn := s.snap.Load()
	if sn == nil {
		return false
	}
	if sn.all {
		return true
	}
	for _, p := range sn.prefixes {
		if len(b) >= len(p) && string(b[:len(p)]) == p {
			return true
		}
	}
	return false
}

// count returns the number of distinct prefixes.
func (s *subscriptions) count() int {
	sn := s.snap.Load()
	if sn == nil {
		return 0
	}
	n := len(sn.prefixes)
	if sn.all {
		n++
	}
	return n
}

// subscriptionMsg encodes a ZMTP 3.0-style subscription message (RFC 29:
// %x01 prefix subscribes, %x00 prefix cancels), which libzmq 4.3 and
// go-zeromq/zmq4 both understand.
func subscriptionMsg(prefix []byte, subscribe bool) []byte {
	var flag byte
	if subscribe {
		flag = 1
	}
	body := make([]byte, 0, 1+len(prefix))
	body = append(body, flag)
	body = append(body, prefix...)
	return appendFrame(nil, 0, body)
}

// parseSubscription decodes a subscription message; ok is false if m is not
// one.
func parseSubscription(m Msg) (prefix []byte, subscribe bool, ok bool) {
	if len(m) != 1 || len(m[0]) < 1 || m[0][0] > 1 {
		return nil, false, false
	}
	return m[0][1:], m[0][0] == 1, true
}
