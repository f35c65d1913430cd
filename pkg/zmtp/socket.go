package zmtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults, matching libzmq where it has one.
const (
	DefaultHWM               = 1000
	DefaultLinger            = time.Second
	DefaultMaxMsgSize        = 64 << 20
	DefaultReconnectInterval = 100 * time.Millisecond
	DefaultReconnectMax      = 5 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	// DefaultConnectTimeout bounds one TCP connect attempt. libzmq's
	// ZMQ_CONNECT_TIMEOUT defaults to 0 (the kernel's SYN retries, about
	// 2 minutes on Linux); a few seconds suits Kubernetes, where the
	// address of a deleted pod silently drops SYNs while the name already
	// points at its successor.
	DefaultConnectTimeout = 3 * time.Second
)

// Heartbeat configures ZMTP 3.1 PING/PONG (RFC 37 §"Connection
// Heartbeating"). Heartbeats are only sent to ZMTP 3.1 peers; PINGs from any
// peer are always answered.
type Heartbeat struct {
	// Interval between PINGs we send; zero disables sending.
	Interval time.Duration
	// Timeout closes the connection if nothing is heard from the peer this
	// long after a PING; zero means Interval.
	Timeout time.Duration
	// TTL is sent in our PINGs: the peer may close the connection if it
	// hears nothing from us for this long. Zero sends no TTL.
	TTL time.Duration
}

type options struct {
	sendHWM, recvHWM  int
	linger            time.Duration
	heartbeat         Heartbeat
	maxMsgSize        int64
	identity          []byte
	reconnectMin      time.Duration
	reconnectMax      time.Duration
	handshakeTimeout  time.Duration
	xpubVerbose       bool
	dialer            Dialer
	connectTimeout    time.Duration
	handshakeObserver func(remote string, err error)
	disconnectObs     func(remote string, err error)
	keepAlive         *net.KeepAliveConfig
	clock             clock         // heartbeats, cookie keys; a fake in tests
	curve             *curveOptions // nil: NULL mechanism
	req               reqOptions
	router            routerOptions
}

// Option configures a Socket.
type Option func(*options)

// WithSendHWM sets the per-peer send queue limit in messages (0: unbounded).
// PUB/XPUB/XSUB/ROUTER drop (and count) messages beyond it; PUSH, DEALER,
// REQ, PAIR and a ROUTER with WithRouterMandatory block.
func WithSendHWM(n int) Option { return func(o *options) { o.sendHWM = n } }

// WithRecvHWM sets the per-peer receive queue limit in messages (0:
// unbounded); a full queue stops reading from that peer.
func WithRecvHWM(n int) Option { return func(o *options) { o.recvHWM = n } }

// WithLinger sets how long Close waits for queued messages to be written.
func WithLinger(d time.Duration) Option { return func(o *options) { o.linger = d } }

// WithHeartbeat enables PING/PONG heartbeats to ZMTP 3.1 peers.
func WithHeartbeat(h Heartbeat) Option { return func(o *options) { o.heartbeat = h } }

// WithMaxMsgSize bounds the size of a received message in octets (sum of
// its frames), like libzmq's ZMQ_MAXMSGSIZE. A peer that announces a
// larger frame is disconnected before the body is allocated; the message
// is lost (the peer may reconnect and go on), the disconnect is counted in
// Stats.OversizeDisconnects and reported to WithDisconnectObserver with an
// error matching ErrFrameTooLarge. Default DefaultMaxMsgSize (64 MiB;
// libzmq's default is unlimited); a negative value means unlimited
// (memory is then still allocated only as bytes arrive).
func WithMaxMsgSize(n int64) Option { return func(o *options) { o.maxMsgSize = n } }

// WithTCPKeepAlive sets TCP keepalive on every connection of the socket,
// accepted or dialed (libzmq's ZMQ_TCP_KEEPALIVE*). Enable false turns it
// off; zero durations and count keep the kernel's values.
func WithTCPKeepAlive(cfg net.KeepAliveConfig) Option {
	return func(o *options) { o.keepAlive = &cfg }
}

// WithIdentity sets the Identity property sent in READY by REQ, DEALER and
// ROUTER sockets; a ROUTER peer uses it as our routing id.
func WithIdentity(id []byte) Option {
	return func(o *options) { o.identity = append([]byte(nil), id...) }
}

// WithReconnectInterval sets the reconnect backoff of connecting sockets
// (libzmq's ZMQ_RECONNECT_IVL and ZMQ_RECONNECT_IVL_MAX; defaults
// DefaultReconnectInterval and DefaultReconnectMax): after a failed
// attempt or a lost connection the socket waits min (plus up to 25%
// jitter), doubling after each further failure up to max. The interval
// returns to min only once a connection has stayed up for at least max,
// so a peer that accepts and at once drops us (a PAIR that already has
// its partner, a server that crashes after the handshake) is retried at
// the doubling pace, not in a storm. Reconnection never gives up.
func WithReconnectInterval(min, max time.Duration) Option {
	return func(o *options) { o.reconnectMin, o.reconnectMax = min, max }
}

// WithHandshakeTimeout bounds greeting + handshake on every new connection,
// so a silent client cannot hold a slot.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *options) { o.handshakeTimeout = d }
}

// WithDisconnectObserver registers a callback told once about every
// connection that ends after its handshake, with the cause: io.EOF when
// the peer closed it, an error matching ErrFrameTooLarge when it sent a
// message over WithMaxMsgSize, ErrHeartbeatTimeout, a *ProtocolError, a
// network error; nil when we closed it (Close, or a refused duplicate).
// It runs in the connection's goroutine and must not block.
func WithDisconnectObserver(f func(remote string, err error)) Option {
	return func(o *options) { o.disconnectObs = f }
}

// WithXPubVerbose makes an XPUB deliver every subscription message, not
// only new ones (libzmq's ZMQ_XPUB_VERBOSE).
func WithXPubVerbose() Option { return func(o *options) { o.xpubVerbose = true } }

// WithHandshakeObserver registers a callback told about each handshake
// attempt (err nil on success), for metrics and logs.
func WithHandshakeObserver(f func(remote string, err error)) Option {
	return func(o *options) { o.handshakeObserver = f }
}

// Stats are a Socket's counters, cumulative since creation except Peers.
type Stats struct {
	// MsgsIn and MsgsOut count messages received from and written to
	// peers; BytesIn and BytesOut count their body octets.
	MsgsIn, MsgsOut   uint64
	BytesIn, BytesOut uint64
	// Drops counts messages discarded because a peer's send queue was at
	// its HWM (PUB, XPUB, XSUB), unroutable (ROUTER, REP), or stale or
	// malformed replies a REQ discarded.
	Drops uint64
	// Peers is the number of currently connected peers.
	Peers int
	// Handshakes and HandshakeFailures count incoming/outgoing connection
	// attempts that did or did not complete the ZMTP handshake. A default
	// Probe of a bound socket counts as a failure (it never sends READY),
	// as do TCP health checks.
	Handshakes, HandshakeFailures uint64
	// Subscriptions is the number of distinct prefixes subscribed (SUB,
	// XSUB: our own; PUB, XPUB: union over peers).
	Subscriptions int
	// OversizeDisconnects counts connections closed because the peer sent
	// a message larger than WithMaxMsgSize (ZMQ_MAXMSGSIZE); each lost
	// that message.
	OversizeDisconnects uint64
	// AuthFailures counts CURVE handshakes that failed authentication
	// (errors matching ErrAuth): on a server, clients refused by the
	// authoriser and clients whose HELLO, cookie, INITIATE or vouch did
	// not open (e.g. one using a wrong server key); on a client, servers
	// whose WELCOME or READY did not open with the expected server key,
	// and refusals (ERROR "400") by the server. They are also counted in
	// HandshakeFailures.
	AuthFailures uint64
	// Requeued counts messages that were queued for a PUSH or DEALER peer
	// that left before they were written to its connection, and were
	// handed to the remaining peers instead. MsgsOut counts such a message
	// again when it is written to its new peer.
	Requeued uint64
}

type counters struct {
	msgsIn, msgsOut, bytesIn, bytesOut, drops atomic.Uint64
	handshakes, handshakeFailures             atomic.Uint64
	oversize, requeued, authFailures          atomic.Uint64
}

// PeerInfo describes one connected peer.
type PeerInfo struct {
	// Remote is the peer's address.
	Remote string
	// SocketType is the peer's Socket-Type from its READY.
	SocketType SocketType
	// Minor is the negotiated ZMTP minor version (0 or 1).
	Minor byte
	// Identity is the Identity the peer sent, if any.
	Identity []byte
}

// pattern is the per-type behaviour plugged into a Socket.
type pattern interface {
	attach(c *conn) error
	detach(c *conn)
	send(ctx context.Context, m Msg) error
	recv(ctx context.Context) (Msg, error)
	// incoming filters or transforms a message in c's reader goroutine;
	// returning false drops it.
	incoming(c *conn, m Msg) (Msg, bool)
	// subscription handles a peer's SUBSCRIBE/CANCEL.
	subscription(c *conn, prefix []byte, subscribe bool)
}

// basePattern supplies "not supported" defaults.
type basePattern struct{}

func (basePattern) attach(*conn) error                  { return nil }
func (basePattern) detach(*conn)                        {}
func (basePattern) send(context.Context, Msg) error     { return ErrNotSupported }
func (basePattern) recv(context.Context) (Msg, error)   { return nil, ErrNotSupported }
func (basePattern) incoming(_ *conn, m Msg) (Msg, bool) { return m, true }
func (basePattern) subscription(*conn, []byte, bool)    {}
func (basePattern) subscribe([]byte, bool) error        { return ErrNotSupported }
func (basePattern) subscriptionCount() int              { return 0 }

// Socket is a ZeroMQ socket speaking ZMTP 3.1 over TCP (and ipc:// Unix
// sockets). It may bind and connect to several endpoints at once and is safe
// for concurrent use.
type Socket struct {
	typ  SocketType
	opts options
	pat  pattern
	fq   *fairQueue
	lb   *loadBalancer
	dist *distributor

	mu        sync.Mutex
	conns     map[*conn]struct{}
	listeners []net.Listener
	dials     map[string][]*dial // by endpoint, as given to Connect
	closed    bool
	closing   chan struct{}
	dialCtx   context.Context
	dialStop  context.CancelFunc
	wg        sync.WaitGroup
	stats     counters

	// Draining (drain.go): draining is set, and drainStart closed, by
	// StopAccepting; drained is closed once no connection is left.
	draining    bool
	pending     int // handshakes under way, which a drain waits for
	drainStart  chan struct{}
	drained     chan struct{}
	drainedOnce sync.Once
}

// NewSocket creates a socket of type t.
func NewSocket(t SocketType, opts ...Option) (*Socket, error) {
	s := &Socket{
		typ: t,
		opts: options{
			sendHWM: DefaultHWM, recvHWM: DefaultHWM, linger: DefaultLinger,
			maxMsgSize: DefaultMaxMsgSize, reconnectMin: DefaultReconnectInterval,
			reconnectMax: DefaultReconnectMax, handshakeTimeout: DefaultHandshakeTimeout,
			connectTimeout: DefaultConnectTimeout, dialer: &net.Dialer{},
			clock: realClock{},
		},
		conns:      map[*conn]struct{}{},
		closing:    make(chan struct{}),
		drainStart: make(chan struct{}),
		drained:    make(chan struct{}),
	}
	for _, o := range opts {
		o(&s.opts)
	}
	if c := s.opts.curve; c != nil {
		if err := c.init(s.opts.clock); err != nil {
			return nil, err
		}
	}
	if s.opts.heartbeat.Timeout == 0 {
		s.opts.heartbeat.Timeout = s.opts.heartbeat.Interval
	}
	if s.opts.reconnectMin <= 0 {
		s.opts.reconnectMin = DefaultReconnectInterval
	}
	if s.opts.reconnectMax < s.opts.reconnectMin {
		s.opts.reconnectMax = s.opts.reconnectMin
	}
	s.dialCtx, s.dialStop = context.WithCancel(context.Background())
	s.fq = newFairQueue(s.opts.recvHWM, s.closing)
	s.fq.drained = s.drained
	s.lb = newLoadBalancer(s.opts.sendHWM, s.closing)
	s.dist = &distributor{hwm: s.opts.sendHWM}
	switch t {
	case PUSH:
		s.pat = &pushPattern{s: s}
	case PULL:
		s.pat = &pullPattern{s: s}
	case PUB:
		s.pat = &pubPattern{s: s}
	case SUB:
		s.pat = &subPattern{s: s}
	case XPUB:
		s.pat = &xpubPattern{pubPattern: pubPattern{s: s}, verbose: s.opts.xpubVerbose}
	case XSUB:
		s.pat = &xsubPattern{subPattern: subPattern{s: s}}
	case REQ:
		s.pat = newReqPattern(s)
	case REP:
		s.pat = &repPattern{s: s}
	case DEALER:
		s.pat = &dealerPattern{s: s}
	case ROUTER:
		s.pat = newRouterPattern(s)
	case PAIR:
		s.pat = &pairPattern{s: s}
	default:
		return nil, fmt.Errorf("zmtp: unsupported socket type %v", t)
	}
	return s, nil
}

// Type returns the socket type.
func (s *Socket) Type() SocketType { return s.typ }

// Send sends a message. It blocks (honouring ctx) where the pattern blocks:
// PUSH, DEALER, REQ and PAIR wait for a peer with room below the HWM. The
// socket takes ownership of m's frames. An empty Msg is sent as one empty
// frame.
func (s *Socket) Send(ctx context.Context, m Msg) error {
	if s.isClosed() {
		return ErrClosed
	}
	if len(m) == 0 {
		m = Msg{nil}
	}
	return s.pat.send(ctx, m)
}

// Recv receives the next message, blocking until one arrives, ctx is done
// or the socket is closed. The caller owns the returned frames.
func (s *Socket) Recv(ctx context.Context) (Msg, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	return s.pat.recv(ctx)
}

type subscriber interface {
	subscribe(prefix []byte, on bool) error
}

// Subscribe adds a prefix subscription (SUB, XSUB). The empty prefix
// subscribes to everything.
func (s *Socket) Subscribe(prefix []byte) error {
	if sp, ok := s.pat.(subscriber); ok {
		return sp.subscribe(prefix, true)
	}
	return ErrNotSupported
}

// Unsubscribe removes one Subscribe of prefix (SUB, XSUB).
func (s *Socket) Unsubscribe(prefix []byte) error {
	if sp, ok := s.pat.(subscriber); ok {
		return sp.subscribe(prefix, false)
	}
	return ErrNotSupported
}

type subCounter interface{ subscriptionCount() int }

// Stats returns the socket's counters.
func (s *Socket) Stats() Stats {
	s.mu.Lock()
	peers := len(s.conns)
	s.mu.Unlock()
	st := Stats{
		MsgsIn: s.stats.msgsIn.Load(), MsgsOut: s.stats.msgsOut.Load(),
		BytesIn: s.stats.bytesIn.Load(), BytesOut: s.stats.bytesOut.Load(),
		Drops: s.stats.drops.Load(), Peers: peers,
		Handshakes: s.stats.handshakes.Load(), HandshakeFailures: s.stats.handshakeFailures.Load(),
		OversizeDisconnects: s.stats.oversize.Load(), Requeued: s.stats.requeued.Load(),
		AuthFailures: s.stats.authFailures.Load(),
	}
	if sc, ok := s.pat.(subCounter); ok {
		st.Subscriptions = sc.subscriptionCount()
	}
	return st
}

// Peers describes the connected peers.
func (s *Socket) Peers() []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PeerInfo, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, PeerInfo{Remote: c.remote, SocketType: c.peerType, Minor: c.minor, Identity: []byte(c.peerMeta.Get(PropIdentity))})
	}
	return out
}

// Closed returns a channel that is closed when Close is called.
func (s *Socket) Closed() <-chan struct{} { return s.closing }

func (s *Socket) isClosed() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// parseEndpoint maps "tcp://host:port" and "ipc:///path" to net/Listen
// arguments; "*" as host means every interface.
func parseEndpoint(ep string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(ep, "tcp://"):
		addr = strings.TrimPrefix(ep, "tcp://")
		if strings.HasPrefix(addr, "*:") {
			addr = addr[1:]
		}
		return "tcp", addr, nil
	case strings.HasPrefix(ep, "ipc://"):
		return "unix", strings.TrimPrefix(ep, "ipc://"), nil
	}
	return "", "", fmt.Errorf("zmtp: unsupported endpoint %q (want tcp:// or ipc://)", ep)
}

// Bind listens on endpoint ("tcp://127.0.0.1:0", "tcp://*:5555",
// "ipc:///tmp/x.sock") and returns the actual endpoint, with the port
// resolved.
func (s *Socket) Bind(endpoint string) (string, error) {
	network, addr, err := parseEndpoint(endpoint)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return "", fmt.Errorf("zmtp: bind %s: %w", endpoint, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return "", ErrClosed
	}
	s.listeners = append(s.listeners, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	go s.acceptLoop(ln)
	if network == "unix" {
		return "ipc://" + ln.Addr().String(), nil
	}
	return "tcp://" + ln.Addr().String(), nil
}

func (s *Socket) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		// The handshake runs in its own goroutine with a deadline: a silent
		// client never delays other peers.
		done := s.handshaking()
		go func() {
			defer s.wg.Done()
			defer done()
			if c := s.handshakeConn(nc); c != nil {
				s.attach(c)
			}
		}()
	}
}

// handshakeConn runs the handshake with the socket's deadline, closing nc
// on failure.
func (s *Socket) handshakeConn(nc net.Conn) *conn {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		if ka := s.opts.keepAlive; ka != nil {
			_ = tc.SetKeepAliveConfig(*ka)
		}
	}
	// Abort the handshake promptly if the socket closes meanwhile.
	stop := context.AfterFunc(s.dialCtx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	c, err := handshakeMech(nc, s.typ, s.opts.identity, time.Now().Add(s.opts.handshakeTimeout), s.opts.mechanism())
	stop()
	if f := s.opts.handshakeObserver; f != nil {
		f(nc.RemoteAddr().String(), err)
	}
	if err != nil {
		s.stats.handshakeFailures.Add(1)
		if errors.Is(err, ErrAuth) {
			s.stats.authFailures.Add(1)
		}
		_ = nc.Close()
		return nil
	}
	s.stats.handshakes.Add(1)
	return c
}

// attach makes a handshaken connection live: the pattern takes it and its
// reader and writer start. It returns false if the connection was refused.
func (s *Socket) attach(c *conn) bool { return s.attachFor(c, nil) }

// attachFor is attach for a connection dialled by d (nil for an accepted
// one): under the socket's lock it refuses the connection when d was
// stopped (Disconnect ran during the handshake) and records it as d's
// otherwise, so that Disconnect never misses a connection the pattern
// already routes to.
func (s *Socket) attachFor(c *conn, d *dial) bool {
	c.s = s
	s.mu.Lock()
	if s.closed || d != nil && d.ctx.Err() != nil {
		s.mu.Unlock()
		_ = c.nc.Close()
		return false
	}
	if err := s.pat.attach(c); err != nil {
		s.mu.Unlock()
		_ = c.nc.Close()
		return false
	}
	s.conns[c] = struct{}{}
	if d != nil {
		d.conn = c
	}
	_, c.unacked.on = s.pat.(requeuer)
	if _, raw := s.pat.(rawIncomer); raw && c.packable() {
		c.inRaw = new(rawQueue)
	}
	s.wg.Add(2)
	draining := s.draining
	s.mu.Unlock()
	if draining {
		// A handshake that was under way when the drain began: the peer
		// may already have sent messages, so take them, then let it go.
		c.halfClose()
	}
	go c.readLoop()
	go c.writeLoop()
	if s.opts.heartbeat.Interval > 0 && c.minor >= 1 {
		c.startHeartbeat()
	}
	return true
}

// detach is called once when a connection dies.
func (s *Socket) detach(c *conn) {
	s.mu.Lock()
	_, ok := s.conns[c]
	delete(s.conns, c)
	s.mu.Unlock()
	if ok {
		s.pat.detach(c)
	}
}

// Close stops listening and dialing, waits up to the linger period for
// queued messages to be written, then closes every connection and waits for
// the socket's goroutines to exit.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.dialStop()
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if s.opts.linger > 0 {
		deadline := time.Now().Add(s.opts.linger)
		for _, c := range conns {
			if d := time.Until(deadline); d > 0 {
				c.drain(d)
			}
		}
	}
	for _, c := range conns {
		c.fail(errConnClosed)
	}
	s.wg.Wait()
	return nil
}
