package zmtp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"sync"
)

// routerPattern: ROUTER prefixes every received message with the sending
// peer's routing id and routes every sent message by its first frame
// (RFC 28). A peer's id is the Identity it sent in READY, or a generated
// 5-octet id starting with %x00 (as libzmq does). Unroutable messages and
// messages to a peer at its HWM are dropped and counted.
type routerPattern struct {
	basePattern
	s     *Socket
	mu    sync.Mutex
	byID  map[string]*conn
	maxID uint32
}

func newRouterPattern(s *Socket) *routerPattern {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &routerPattern{s: s, byID: map[string]*conn{}, maxID: binary.BigEndian.Uint32(b[:])}
}

func (p *routerPattern) attach(c *conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := []byte(c.peerMeta.Get(PropIdentity))
	// RFC 28: identities starting with %x00 are reserved for generated ids;
	// a duplicate identity gets a generated one.
	if len(id) == 0 || id[0] == 0 || p.byID[string(id)] != nil {
		for {
			p.maxID++
			id = binary.BigEndian.AppendUint32([]byte{0}, p.maxID)
			if p.byID[string(id)] == nil {
				break
			}
		}
	}
	c.routingID = id
	p.byID[string(id)] = c
	return nil
}

func (p *routerPattern) detach(c *conn) {
	p.mu.Lock()
	if p.byID[string(c.routingID)] == c {
		delete(p.byID, string(c.routingID))
	}
	p.mu.Unlock()
}

func (p *routerPattern) recv(ctx context.Context) (Msg, error) {
	c, m, err := p.s.fq.pop(ctx)
	if err != nil {
		return nil, err
	}
	out := make(Msg, 0, len(m)+1)
	out = append(out, append([]byte(nil), c.routingID...)) // the caller may modify it
	return append(out, m...), nil
}

func (p *routerPattern) send(_ context.Context, m Msg) error {
	if len(m) < 2 {
		p.s.stats.drops.Add(1)
		return nil
	}
	p.mu.Lock()
	c := p.byID[string(m[0])]
	p.mu.Unlock()
	if c == nil || !c.enqueue(m[1:], p.s.opts.sendHWM) {
		p.s.stats.drops.Add(1)
	}
	return nil
}
