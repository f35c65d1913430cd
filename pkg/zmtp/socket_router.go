package zmtp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// ErrHostUnreachable is returned by Send on a ROUTER socket with
// WithRouterMandatory when no connected peer has the message's routing id:
// libzmq's EHOSTUNREACH under ZMQ_ROUTER_MANDATORY.
var ErrHostUnreachable = errors.New("zmtp: no peer with this routing id (EHOSTUNREACH)")

// errIdentityInUse refuses a connection whose Identity another connected
// peer holds; errHandedOver closes the previous holder under handover.
var (
	errIdentityInUse = errors.New("zmtp: ROUTER: identity already in use by a connected peer")
	errHandedOver    = errors.New("zmtp: ROUTER: identity handed over to a new connection")
)

// routerOptions are the ROUTER socket's settings.
type routerOptions struct {
	handover  bool // WithRouterHandover
	mandatory bool // WithRouterMandatory
}

// WithRouterHandover lets a ROUTER give an identity that is in use to the
// newest connection presenting it (libzmq's ZMQ_ROUTER_HANDOVER): messages
// sent to that id go to the newcomer at once, and the previous holder's
// connection is closed after what was already queued to it has been
// written, or after the linger period (WithLinger), whichever comes first.
// Messages the previous holder sent before it was closed are still
// received, prefixed with the same id. Without handover, a connection
// presenting an identity in use is refused: it is closed right after the
// handshake, and the peer keeps reconnecting (with its backoff) until the
// holder has gone. libzmq keeps such a connection open but ignores it
// instead; the effect for the peer is the same.
//
// With handover, two live peers sharing an identity take it from each other
// on every reconnect; it is meant for a peer that comes back (a restarted
// pod, a new TCP connection) while its old connection is not yet known to
// be dead.
func WithRouterHandover() Option { return func(o *options) { o.router.handover = true } }

// WithRouterMandatory makes a ROUTER report what it cannot deliver (libzmq's
// ZMQ_ROUTER_MANDATORY): Send to a routing id no connected peer has returns
// an error matching ErrHostUnreachable, and Send to a peer whose send queue
// is at the HWM blocks until it has room, the peer leaves
// (ErrHostUnreachable) or ctx ends (ctx.Err()). Without it, both messages
// are dropped and counted in Stats.Drops.
func WithRouterMandatory() Option { return func(o *options) { o.router.mandatory = true } }

// routerPattern: ROUTER prefixes every received message with the sending
// peer's routing id and routes every sent message by its first frame
// (RFC 28). A peer's id is the Identity it sent in READY, or a generated
// 5-octet id starting with %x00 (as libzmq does). An Identity already in use
// is refused, or taken over with WithRouterHandover. Unroutable messages
// and messages to a peer at its HWM are dropped and counted, or reported
// with WithRouterMandatory.
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

// attach runs under the socket's lock, before c's goroutines start.
func (p *routerPattern) attach(c *conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := []byte(c.peerMeta.Get(PropIdentity))
	// RFC 28: identities starting with %x00 are reserved for generated ids.
	if len(id) == 0 || id[0] == 0 {
		for {
			p.maxID++
			id = binary.BigEndian.AppendUint32([]byte{0}, p.maxID)
			if p.byID[string(id)] == nil {
				break
			}
		}
	} else if old := p.byID[string(id)]; old != nil {
		if !p.s.opts.router.handover {
			return errIdentityInUse
		}
		p.retire(old)
	}
	c.routingID = id
	p.byID[string(id)] = c
	return nil
}

// retire closes a connection that lost its identity to a newer one, once
// what was queued to it is written or the linger period is over. It is
// called under the socket's lock, so the socket is not closing yet and
// Close will wait for the goroutine.
func (p *routerPattern) retire(old *conn) {
	p.s.wg.Add(1)
	go func() {
		defer p.s.wg.Done()
		if p.s.opts.linger > 0 {
			old.drain(p.s.opts.linger)
		}
		old.fail(errHandedOver)
	}()
}

func (p *routerPattern) detach(c *conn) {
	p.mu.Lock()
	if p.byID[string(c.routingID)] == c {
		delete(p.byID, string(c.routingID))
	}
	p.mu.Unlock()
	// A mandatory Send waiting for this peer's queue must learn it left.
	p.s.lb.signal()
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

func (p *routerPattern) lookup(id []byte) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byID[string(id)]
}

func (p *routerPattern) send(ctx context.Context, m Msg) error {
	if len(m) < 2 {
		p.s.stats.drops.Add(1)
		return nil
	}
	hwm := p.s.opts.sendHWM
	if !p.s.opts.router.mandatory {
		if c := p.lookup(m[0]); c == nil || !c.enqueue(m[1:], hwm) {
			p.s.stats.drops.Add(1)
		}
		return nil
	}
	unreachable := false
	err := p.s.lb.waitRoom(ctx, func() bool {
		c := p.lookup(m[0])
		if c == nil {
			unreachable = true
			return true
		}
		return c.enqueue(m[1:], hwm)
	})
	if err != nil {
		return err
	}
	if unreachable {
		return fmt.Errorf("zmtp: ROUTER send to %q: %w", m[0], ErrHostUnreachable)
	}
	return nil
}
