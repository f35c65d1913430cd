package zmtp

import (
	"context"
	"crypto/rand"
	"net"
	"time"
)

// Dialer opens the network connection behind a Connect. *net.Dialer
// implements it; its Resolver field chooses how names are resolved. The
// address is the endpoint's host:port (or Unix socket path) as given to
// Connect, so a name is resolved again on every attempt and a Service or
// pod name that moves to a new address is followed.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// WithDialer sets the Dialer of connecting sockets (default: a zero
// net.Dialer, which uses the system resolver). Each attempt is still
// bounded by WithConnectTimeout.
func WithDialer(d Dialer) Option { return func(o *options) { o.dialer = d } }

// WithConnectTimeout bounds one connect attempt, TCP handshake and name
// resolution included (libzmq's ZMQ_CONNECT_TIMEOUT): when it expires the
// attempt counts as failed and the socket retries after the reconnect
// backoff (WithReconnectInterval), resolving the name again. Default
// DefaultConnectTimeout (3 s); zero or negative leaves the attempt to the
// kernel's SYN retries (about 2 minutes on Linux), as libzmq's default
// does. Delivery to a name that moved from a dead address to a live one
// therefore comes within the connect timeout plus one backoff interval.
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) { o.connectTimeout = d }
}

// Connect connects to endpoint in the background and keeps reconnecting,
// with backoff, whenever the connection fails. It returns at once.
//
// Before its first connection is up, a connecting socket has no peer:
// messages are queued only on completed connections, as with libzmq's
// ZMQ_IMMEDIATE=1, so PUSH, DEALER, REQ and PAIR block in Send (honouring
// its context) and PUB drops. libzmq's default (ZMQ_IMMEDIATE=0) queues
// them for the connection being attempted instead; we do not, so that a
// message is never parked behind an address that may never answer while
// another peer could take it.
func (s *Socket) Connect(endpoint string) error {
	network, addr, err := parseEndpoint(endpoint)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	d := &dial{endpoint: endpoint}
	d.ctx, d.stop = context.WithCancel(s.dialCtx)
	if s.dials == nil {
		s.dials = map[string][]*dial{}
	}
	s.dials[endpoint] = append(s.dials[endpoint], d)
	s.wg.Add(1)
	s.mu.Unlock()
	go s.dialLoop(d, network, addr)
	return nil
}

// dial is one Connect: the loop that keeps a connection to its endpoint
// up until the socket closes or Disconnect stops it.
type dial struct {
	endpoint string
	ctx      context.Context // done when the socket closes or Disconnect
	stop     context.CancelFunc
	conn     *conn // the live connection, if any; guarded by Socket.mu
}

// dialLoop keeps one connection to addr up until d is stopped.
func (s *Socket) dialLoop(d *dial, network, addr string) {
	defer s.wg.Done()
	b := backoff{min: s.opts.reconnectMin, max: s.opts.reconnectMax}
	b.reset()
	for {
		select {
		case <-s.drainStart:
			return
		default:
		}
		if c := s.dialOnce(d, network, addr); c != nil {
			up := time.Now()
			select {
			case <-c.done:
			case <-d.ctx.Done():
				return
			}
			s.release(d, c)
			b.connectionLasted(time.Since(up))
		}
		select {
		case <-d.ctx.Done():
			return
		case <-s.drainStart:
			return
		case <-time.After(jitter(b.next())):
		}
	}
}

// release forgets d's connection c once it died.
func (s *Socket) release(d *dial, c *conn) {
	s.mu.Lock()
	if d.conn == c {
		d.conn = nil
	}
	s.mu.Unlock()
}

// dialOnce makes one bounded connect attempt and handshake for d, returning
// the attached connection, recorded as d's, or nil (also when d was stopped
// while the handshake ran).
func (s *Socket) dialOnce(d *dial, network, addr string) *conn {
	ctx := d.ctx
	if d := s.opts.connectTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	nc, err := s.opts.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil
	}
	defer s.handshaking()()
	c := s.handshakeConn(nc)
	if c == nil || !s.attachFor(c, d) {
		return nil
	}
	return c
}

// backoff is the reconnect schedule of one connecting endpoint: intervals
// double from min to max after each failure, and go back to min only after
// a connection stayed up for at least max.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) reset() { b.cur = b.min }

// next returns the interval to wait now and doubles the following one.
func (b *backoff) next() time.Duration {
	d := b.cur
	if b.cur < b.max {
		b.cur = min(b.cur*2, b.max)
	}
	return d
}

// connectionLasted records how long a connection stayed up; only a stable
// one resets the schedule.
func (b *backoff) connectionLasted(d time.Duration) {
	if d >= b.max {
		b.reset()
	}
}

// jitter spreads reconnects of many sockets by up to +25%.
func jitter(d time.Duration) time.Duration {
	var r [1]byte
	_, _ = rand.Read(r[:])
	return d + d*time.Duration(r[0])/1024
}
