package zmtp

import "context"

// pullPattern: PULL fair-queues messages from PUSH peers (RFC 30); it never
// sends.
type pullPattern struct {
	basePattern
	s *Socket
}

func (p *pullPattern) recv(ctx context.Context) (Msg, error) {
	_, m, err := p.s.fq.pop(ctx)
	return m, err
}
