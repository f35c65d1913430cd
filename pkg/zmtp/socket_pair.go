package zmtp

import (
	"context"
	"errors"
	"sync"
)

// pairPattern: PAIR talks to exactly one peer; further peers are refused
// while one is connected (RFC 31).
type pairPattern struct {
	basePattern
	s    *Socket
	mu   sync.Mutex
	peer *conn
}

var errPairBusy = errors.New("zmtp: PAIR already has a peer")

func (p *pairPattern) attach(c *conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.peer != nil {
		return errPairBusy
	}
	p.peer = c
	p.s.lb.add(c)
	return nil
}

func (p *pairPattern) detach(c *conn) {
	p.mu.Lock()
	if p.peer == c {
		p.peer = nil
	}
	p.mu.Unlock()
	p.s.lb.remove(c)
}

func (p *pairPattern) send(ctx context.Context, m Msg) error {
	_, err := p.s.lb.send(ctx, m)
	return err
}

func (p *pairPattern) recv(ctx context.Context) (Msg, error) {
	_, m, err := p.s.fq.pop(ctx)
	return m, err
}
