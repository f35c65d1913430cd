package zmtp

import "context"

// dealerPattern: DEALER sends round-robin (blocking at the HWM) and
// fair-queues what it receives, with no envelope handling (RFC 28).
type dealerPattern struct {
	basePattern
	s *Socket
}

func (p *dealerPattern) attach(c *conn) error { p.s.lb.add(c); return nil }
func (p *dealerPattern) detach(c *conn)       { p.s.lb.remove(c) }

func (p *dealerPattern) send(ctx context.Context, m Msg) error {
	_, err := p.s.lb.send(ctx, m)
	return err
}

func (p *dealerPattern) recv(ctx context.Context) (Msg, error) {
	_, m, err := p.s.fq.pop(ctx)
	return m, err
}
