package zmtp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// ProbeMode selects how far a probe goes. Every mode obeys DESIGN.md's
// probe-safety rules: the prober never becomes a pipe a message could be
// routed to.
type ProbeMode int

const (
	// ProbeReady (the default) connects, exchanges greetings and reads the
	// peer's READY, then closes without sending ours, so the peer never
	// attaches the probe and never routes a message to it. Exception: a
	// ZMTP 3.0 peer (go-zeromq/zmq4) leaks a file descriptor for every
	// abandoned handshake, so against a 3.0 peer whose type has a silent
	// partner (see SilentPeer) the probe completes the handshake as that
	// silent type before closing. Never against PUSH, DEALER, REQ or PAIR.
	ProbeReady ProbeMode = iota
	// ProbeGreeting only exchanges greetings (version and mechanism); it
	// does not wait for READY.
	ProbeGreeting
	// ProbePing does what ProbeReady does and then, against a ZMTP 3.1 peer
	// whose type has a silent partner, completes the handshake as that
	// silent type and measures a PING/PONG round trip. Against other peers
	// it behaves like ProbeReady and leaves PingRTT zero.
	ProbePing
)

// ProbeOptions configure Probe.
type ProbeOptions struct {
	// Mode is how far the probe goes; the zero value is ProbeReady.
	Mode ProbeMode
	// NeverSendReady forbids completing the handshake in any mode, even
	// against ZMTP 3.0 peers (at the cost of zmq4's fd leak) and disables
	// PING.
	NeverSendReady bool
	// Timeout bounds the whole probe when ctx has no deadline (default 5s).
	Timeout time.Duration
	// Dialer, if set, is used to connect.
	Dialer *net.Dialer
	// Curve, if set, makes the probe a CURVE client with these
	// credentials (see ProbeCurve); without it a CURVE peer is only
	// greeted.
	Curve *ProbeCurve
	// Expect is the Socket-Type the peer is expected to have. A CURVE
	// server reveals its type only in its READY, which it sends after
	// our INITIATE has committed it to the connection, so against CURVE
	// the probe goes past WELCOME only when Expect has a silent partner
	// (SilentPeer), as which it completes the handshake. Unused with NULL.
	Expect SocketType
}

// Version is a ZMTP protocol version.
type Version struct{ Major, Minor byte }

// String returns "3.1".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// ProbeResult is what a probe learned about the peer.
type ProbeResult struct {
	// Version is the version the peer announced in its greeting.
	Version Version
	// Mechanism is the peer's security mechanism ("NULL", "PLAIN", "CURVE").
	Mechanism string
	// SocketType is the peer's Socket-Type (zero if READY was not read).
	SocketType SocketType
	// Identity is the peer's Identity property, if any.
	Identity []byte
	// Metadata holds every READY property.
	Metadata Metadata
	// ConnectLatency is the TCP connect time; Latency is the time from
	// the start of the probe until the peer's READY (or greeting in
	// ProbeGreeting mode) was read.
	ConnectLatency, Latency time.Duration
	// PingRTT is the PING/PONG round trip (ProbePing against a 3.1 peer).
	PingRTT time.Duration
	// SentReady reports whether the probe completed the handshake.
	SentReady bool
	// ServerAuthenticated reports that a CURVE peer proved it holds the
	// secret key of ProbeCurve.Server (its WELCOME opened).
	ServerAuthenticated bool
}

// ProbeError describes a failed probe: the stage it reached and why.
// errors.Is(err, ErrNotZMTP) identifies a non-ZMTP peer;
// errors.Is(err, context.DeadlineExceeded) a peer too slow for the deadline.
type ProbeError struct {
	Endpoint string
	Stage    string // "connect", "greeting", "handshake", "ping"
	Err      error
}

// Error implements error.
func (e *ProbeError) Error() string {
	return "zmtp: probe " + e.Endpoint + " failed at " + e.Stage + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ProbeError) Unwrap() error { return e.Err }

// silentPeers maps a peer's type to a type we can complete a handshake as
// without the peer ever routing a message to us: a SUB with no
// subscription, a PUB/PUSH/REQ/DEALER that never sends. Peers that push
// messages to every pipe (PUSH, DEALER, REQ, PAIR) have no silent partner.
var silentPeers = map[SocketType]SocketType{
	PUB:    SUB,
	XPUB:   SUB,
	SUB:    PUB,
	XSUB:   PUB,
	PULL:   PUSH,
	REP:    REQ,
	ROUTER: DEALER,
}

// SilentPeer returns the socket type a probe may complete a handshake as
// against a peer of type t without affecting its traffic, and false if
// there is none.
func SilentPeer(t SocketType) (SocketType, bool) {
	s, ok := silentPeers[t]
	return s, ok
}

// pingContext is the context octets of our PINGs.
var pingContext = []byte("zmtp-probe")

// Probe connects to endpoint ("tcp://host:port" or "ipc://path") and
// reports the peer's ZMTP version, mechanism, Socket-Type and Identity. One
// deadline (ctx's, or opts.Timeout) covers connect, greeting, READY and
// PING. It never sends a message frame.
func Probe(ctx context.Context, endpoint string, opts ProbeOptions) (ProbeResult, error) {
	var res ProbeResult
	fail := func(stage string, err error) (ProbeResult, error) {
		if ctx.Err() != nil && !errors.Is(err, ErrNotZMTP) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return res, &ProbeError{Endpoint: endpoint, Stage: stage, Err: err}
	}
	network, addr, err := parseEndpoint(endpoint)
	if err != nil {
		return res, &ProbeError{Endpoint: endpoint, Stage: "connect", Err: err}
	}
	if _, ok := ctx.Deadline(); !ok {
		d := opts.Timeout
		if d <= 0 {
			d = 5 * time.Second
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	d := opts.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	start := time.Now()
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return fail("connect", err)
	}
	defer nc.Close()
	res.ConnectLatency = time.Since(start)
	_ = nc.SetDeadline(deadline)
	// Cancellation of ctx (not only its deadline) interrupts the I/O.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	cr := &countingReader{r: nc}
	br := bufio.NewReaderSize(cr, 4096)
	bw := bufio.NewWriterSize(nc, 512)
	greeting := ourGreeting()
	if opts.Curve != nil {
		greeting = appendGreeting(nil, Greeting{Major: VersionMajor, Minor: VersionMinor, Mechanism: MechanismCurve})
	}
	if _, err := nc.Write(greeting); err != nil {
		return fail("greeting", err)
	}
	g, err := readGreeting(br)
	if err != nil {
		var ne net.Error
		if cr.n == 0 && errors.As(err, &ne) && ne.Timeout() {
			// RFC 23: a ZMTP peer sends its greeting as soon as the
			// connection opens. A peer that accepted the connection and
			// stayed silent for the whole deadline (an HTTP server waiting
			// for a request line) is not speaking ZMTP.
			return res, &ProbeError{Endpoint: endpoint, Stage: "greeting",
				Err: fmt.Errorf("%w: no greeting octet before the deadline: %w", ErrNotZMTP, context.DeadlineExceeded)}
		}
		return fail("greeting", err)
	}
	res.Version = Version{g.Major, g.Minor}
	res.Mechanism = g.Mechanism
	if opts.Curve != nil && opts.Mode != ProbeGreeting {
		if g.Mechanism != MechanismCurve {
			return fail("greeting", protoErr("greeting", "peer mechanism "+quoteName(g.Mechanism)+", want CURVE", nil))
		}
		return probeCurve(&res, start, br, bw, opts, g.Major == 3 && g.Minor == 0, fail)
	}
	if opts.Mode == ProbeGreeting || g.Mechanism != MechanismNull {
		// Other mechanisms need credentials; the greeting is all we learn.
		res.Latency = time.Since(start)
		return res, nil
	}
	fr := &frameReader{r: br}
	h := &handshakeIO{fr: fr, bw: bw}
	md, err := readPeerReady(h)
	if err != nil {
		return fail("handshake", err)
	}
	res.Latency = time.Since(start)
	res.Metadata = md
	if id := md.Get(PropIdentity); id != "" {
		res.Identity = []byte(id)
	}
	res.SocketType, err = ParseSocketType(md.Get(PropSocketType))
	if err != nil {
		return fail("handshake", protoErr("handshake", err.Error(), nil))
	}
	silent, ok := SilentPeer(res.SocketType)
	if !ok || opts.NeverSendReady {
		return res, nil
	}
	is30 := g.Major == 3 && g.Minor == 0
	wantPing := opts.Mode == ProbePing && !is30
	if !is30 && !wantPing {
		return res, nil
	}
	if err := h.writeCommand(cmdReady, readyData(silent, nil)); err != nil {
		return fail("handshake", err)
	}
	res.SentReady = true
	if !wantPing {
		return res, nil
	}
	rtt, err := pingPong(plainCodec{}, fr, bw)
	if err != nil {
		return fail("ping", err)
	}
	res.PingRTT = rtt
	return res, nil
}

// pingPong sends a PING (RFC 37) carrying pingContext through codec and
// waits for its PONG, skipping any other frame; an ERROR from the peer
// fails it. It returns the round trip.
func pingPong(codec frameCodec, fr *frameReader, bw *bufio.Writer) (time.Duration, error) {
	start := time.Now()
	if _, err := codec.writeRaw(bw, appendCommand(nil, cmdPing, append([]byte{0, 0}, pingContext...))); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	for {
		flags, body, err := codec.readFrame(fr, maxCommandSize)
		if err != nil {
			return 0, err
		}
		if flags&flagCommand == 0 {
			continue // a silent type should get nothing; ignore it anyway
		}
		cmd, err := parseCommand(body)
		if err != nil {
			return 0, err
		}
		switch cmd.Name {
		case cmdPong:
			return time.Since(start), nil
		case cmdError:
			reason, _ := parseError(cmd.Data)
			return 0, &ProtocolError{Stage: "traffic", Reason: "peer ERROR: " + reason, Err: ErrPeerError}
		}
	}
}

// countingReader counts the octets the peer sent.
type countingReader struct {
	r net.Conn
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
