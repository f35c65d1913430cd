package zmtp

import (
	"context"
	"sync"
)

// reqPattern: REQ sends a request (prefixed with an empty delimiter frame)
// to the next peer round-robin, then accepts only the reply from that peer
// (RFC 28). Send while a reply is pending returns ErrState; if Recv gives up
// because its context ended, the socket may send again (like libzmq's
// ZMQ_REQ_RELAXED), and a late reply to the abandoned request is discarded
// only if it comes from another peer.
type reqPattern struct {
	basePattern
	s        *Socket
	mu       sync.Mutex
	awaiting bool
	peer     *conn
}

func (p *reqPattern) attach(c *conn) error { p.s.lb.add(c); return nil }
func (p *reqPattern) detach(c *conn)       { p.s.lb.remove(c) }

func (p *reqPattern) send(ctx context.Context, m Msg) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.awaiting {
		return ErrState
	}
	env := make(Msg, 0, len(m)+1)
	env = append(env, []byte{})
	env = append(env, m...)
	c, err := p.s.lb.send(ctx, env)
	if err != nil {
		return err
	}
	p.awaiting, p.peer = true, c
	return nil
}

func (p *reqPattern) recv(ctx context.Context) (Msg, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.awaiting {
		return nil, ErrState
	}
	for {
		c, m, err := p.s.fq.pop(ctx)
		if err != nil {
			if err != ErrClosed {
				p.awaiting, p.peer = false, nil
			}
			return nil, err
		}
		// RFC 28: the reply must come from the peer we asked and start with
		// the empty delimiter; anything else is discarded.
		if c != p.peer || len(m) < 2 || len(m[0]) != 0 {
			continue
		}
		p.awaiting, p.peer = false, nil
		return m[1:], nil
	}
}
