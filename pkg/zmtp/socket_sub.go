package zmtp

import "context"

// subPattern: SUB sends its subscriptions to every publisher (on connect
// and on change) and also filters what it receives, so messages from
// publishers that do not filter are still screened (RFC 29).
type subPattern struct {
	basePattern
	s    *Socket
	subs subscriptions
}

func (p *subPattern) attach(c *conn) error {
	for _, prefix := range p.subs.list() {
		c.enqueueRaw(subscriptionMsg([]byte(prefix), true))
	}
	p.s.dist.add(c)
	return nil
}

func (p *subPattern) detach(c *conn) { p.s.dist.remove(c) }

func (p *subPattern) recv(ctx context.Context) (Msg, error) {
	_, m, err := p.s.fq.pop(ctx)
	return m, err
}

func (p *subPattern) incoming(_ *conn, m Msg) (Msg, bool) {
	return m, p.subs.match(m[0])
}

// subscribe updates the set and tells every publisher when the set changed.
func (p *subPattern) subscribe(prefix []byte, on bool) error {
	p.s.mu.Lock() // serialise with attach so a new peer gets a consistent set
	defer p.s.mu.Unlock()
	var changed bool
	if on {
		changed = p.subs.add(prefix)
	} else {
		changed = p.subs.remove(prefix)
	}
	if changed {
		raw := subscriptionMsg(prefix, on)
		for _, c := range p.s.dist.list() {
			c.enqueueRaw(raw)
		}
	}
	return nil
}

func (p *subPattern) subscriptionCount() int { return p.subs.count() }
