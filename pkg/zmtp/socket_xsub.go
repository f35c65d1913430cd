package zmtp

import "context"

// xsubPattern: XSUB is a SUB whose subscriptions are sent by the
// application as messages (%x01 prefix / %x00 prefix), typically forwarded
// from an XPUB; other messages it sends go to every publisher (RFC 29).
type xsubPattern struct {
	subPattern
}

func (p *xsubPattern) send(_ context.Context, m Msg) error {
	if prefix, on, ok := parseSubscription(m); ok {
		return p.subscribe(prefix, on)
	}
	if d := p.s.dist.send(m, false); d > 0 {
		p.s.stats.drops.Add(d)
	}
	return nil
}

func (p *xsubPattern) subscribe(prefix []byte, on bool) error {
	return p.subPattern.subscribe(prefix, on)
}
