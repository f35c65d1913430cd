package zmtp

import "context"

// pushPattern: PUSH sends round-robin to PULL peers, blocking at the HWM
// (RFC 30); it never receives.
type pushPattern struct {
	basePattern
	s *Socket
}

func (p *pushPattern) attach(c *conn) error { p.s.lb.add(c); return nil }
func (p *pushPattern) detach(c *conn)       { p.s.lb.remove(c) }
func (p *pushPattern) send(ctx context.Context, m Msg) error {
	_, err := p.s.lb.send(ctx, m)
	return err
}
func (p *pushPattern) incoming(*conn, Msg) (Msg, bool) { return nil, false }
