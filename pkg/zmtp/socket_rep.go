package zmtp

import (
	"context"
	"sync"
)

// repPattern: REP fair-queues requests, strips and remembers their envelope
// (every frame up to and including the empty delimiter) and sends the reply
// with that envelope to the peer the request came from (RFC 28).
type repPattern struct {
	basePattern
	s        *Socket
	mu       sync.Mutex
	pending  bool
	peer     *conn
	envelope Msg
}

func (p *repPattern) recv(ctx context.Context) (Msg, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending {
		return nil, ErrState
	}
	for {
		c, m, err := p.s.fq.pop(ctx)
		if err != nil {
			return nil, err
		}
		i := 0
		for i < len(m) && len(m[i]) != 0 {
			i++
		}
		if i == len(m) {
			// No delimiter: malformed request, dropped as libzmq does.
			p.s.stats.drops.Add(1)
			continue
		}
		p.pending, p.peer, p.envelope = true, c, m[:i+1]
		return m[i+1:], nil
	}
}

func (p *repPattern) send(_ context.Context, m Msg) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.pending {
		return ErrState
	}
	out := make(Msg, 0, len(p.envelope)+len(m))
	out = append(out, p.envelope...)
	out = append(out, m...)
	c := p.peer
	p.pending, p.peer, p.envelope = false, nil, nil
	// A requester that went away, or whose queue is full, loses its reply.
	if !c.enqueue(out, 0) {
		p.s.stats.drops.Add(1)
	}
	return nil
}
