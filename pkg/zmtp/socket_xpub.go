package zmtp

import "context"

// xpubPattern: XPUB is a PUB that also delivers subscriptions to the
// application as messages (%x01 prefix / %x00 prefix), so a proxy can
// forward them upstream (RFC 29). Like libzmq, it delivers a subscription
// only when it is new across all peers and a cancel only when the last
// subscriber of a prefix goes away (unless verbose), and cancels the
// subscriptions of a peer that disconnects.
type xpubPattern struct {
	pubPattern
	verbose bool
}

func (p *xpubPattern) recv(ctx context.Context) (Msg, error) {
	_, m, err := p.s.fq.pop(ctx)
	return m, err
}

func (p *xpubPattern) incoming(c *conn, m Msg) (Msg, bool) {
	prefix, on, ok := parseSubscription(m)
	if !ok {
		return nil, false
	}
	return p.apply(c, prefix, on)
}

// apply updates the subscription state and returns the message to deliver.
func (p *xpubPattern) apply(c *conn, prefix []byte, on bool) (Msg, bool) {
	changed := false
	if on {
		if c.subs.add(prefix) {
			changed = p.all.add(prefix)
		}
	} else if c.subs.remove(prefix) {
		changed = p.all.remove(prefix)
	}
	if !changed && !(p.verbose && on) {
		return nil, false
	}
	body := make([]byte, 1+len(prefix))
	if on {
		body[0] = 1
	}
	copy(body[1:], prefix)
	return Msg{body}, true
}

// subscription handles SUBSCRIBE/CANCEL commands from ZMTP 3.1 peers.
func (p *xpubPattern) subscription(c *conn, prefix []byte, on bool) {
	if m, ok := p.apply(c, prefix, on); ok {
		p.s.fq.push(c, []Msg{m})
	}
}

func (p *xpubPattern) detach(c *conn) {
	p.s.dist.remove(c)
	p.s.lb.signal() // a Proxy waiting for room (batch.go) may go on
	var cancels []Msg
	for _, prefix := range c.subs.removeAll() {
		if p.all.remove([]byte(prefix)) {
			cancels = append(cancels, Msg{append([]byte{0}, prefix...)})
		}
	}
	if len(cancels) > 0 {
		// Queued on the departing connection's own queue, which stays
		// readable until drained.
		p.s.fq.pushNoWait(c, cancels)
	}
}
