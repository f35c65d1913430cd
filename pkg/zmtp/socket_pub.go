package zmtp

import "context"

// pubPattern: PUB sends each message to every peer subscribed to a prefix of
// its first frame, dropping (and counting) for peers at the HWM (RFC 29).
// It filters on the publisher side; it never receives data.
type pubPattern struct {
	basePattern
	s *Socket
	// all is the union of the peers' subscriptions, for Stats.
	all subscriptions
}

func (p *pubPattern) attach(c *conn) error {
	p.s.dist.add(c)
	p.s.lb.signal() // a Proxy waiting for room (batch.go) may go on
	return nil
}

func (p *pubPattern) detach(c *conn) {
	p.s.dist.remove(c)
	p.s.lb.signal()
	for _, prefix := range c.subs.removeAll() {
		p.all.remove([]byte(prefix))
	}
}

func (p *pubPattern) send(_ context.Context, m Msg) error {
	if d := p.s.dist.send(m, true); d > 0 {
		p.s.stats.drops.Add(d)
	}
	return nil
}

// incoming handles ZMTP 3.0-style subscription messages; other data from a
// subscriber is ignored.
func (p *pubPattern) incoming(c *conn, m Msg) (Msg, bool) {
	if prefix, on, ok := parseSubscription(m); ok {
		p.subscription(c, prefix, on)
	}
	return nil, false
}

func (p *pubPattern) subscription(c *conn, prefix []byte, on bool) {
	if on {
		if c.subs.add(prefix) {
			p.all.add(prefix)
		}
	} else if c.subs.remove(prefix) {
		p.all.remove(prefix)
	}
}

func (p *pubPattern) subscriptionCount() int { return p.all.count() }
