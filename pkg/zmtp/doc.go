// Package zmtp is a pure-Go (no cgo) implementation of ZMTP 3.1, the ZeroMQ
// wire protocol (RFC 23 = ZMTP 3.0, RFC 37 = ZMTP 3.1), with ZeroMQ sockets
// and a probe-safe prober. It interoperates with libzmq and
// go-zeromq/zmq4; test/interop proves it against both.
//
// # Sockets
//
// NewSocket creates a PUB, SUB, XPUB, XSUB, PUSH, PULL, REQ, REP, DEALER,
// ROUTER or PAIR socket. A socket may Bind and Connect to several tcp://
// (or ipc://) endpoints; Bind returns the actual endpoint (use port 0 in
// tests); Connect returns at once and reconnects with backoff until
// Disconnect (zmq_disconnect) undoes it; ConnectedEndpoints lists them.
// Send and Recv take a context. Messages are Msg values ([][]byte frames).
//
//	pull, _ := zmtp.NewSocket(zmtp.PULL, zmtp.WithRecvHWM(1000))
//	ep, _ := pull.Bind("tcp://127.0.0.1:0")
//	push, _ := zmtp.NewSocket(zmtp.PUSH)
//	_ = push.Connect(ep)
//	_ = push.Send(ctx, zmtp.NewMsgString("task", "1"))
//	m, _ := pull.Recv(ctx)
//
// Semantics follow libzmq: PUSH/DEALER/REQ round-robin and block at the
// per-peer send HWM (honouring the context); PUB/XPUB fan out, filter by
// prefix on the publisher side, and drop (and count) for a peer at its HWM
// so a slow subscriber never stalls the others; SUB/XSUB also filter what
// they receive; receivers fair-queue between peers with a per-peer receive
// HWM; XPUB delivers new subscriptions and cancels (also on disconnect) so
// that Proxy can forward them upstream; REQ/REP add and strip envelopes;
// ROUTER prefixes and routes by peer identity. Close waits up to the
// linger period for queued messages. Stats returns counters for metrics.
//
// Request/reply follows libzmq too, with the options that name theirs:
//
//   - REQ is strict (libzmq's default): Send before the previous request's
//     reply was received returns ErrState, also after a Recv whose context
//     ended; Recv again to get the late reply.
//   - REQ Recv returns ErrPeerGone once the peer holding the request has
//     disconnected (after any reply it delivered), and the REQ may send
//     again; libzmq has no equivalent and waits forever.
//   - WithReqRelaxed (ZMQ_REQ_RELAXED + ZMQ_REQ_CORRELATE): Send at any
//     time; requests carry a 4-octet id that REPs and ROUTER applications
//     echo; only the latest request's reply is returned, stale ones count
//     as Stats.Drops.
//   - ROUTER refuses a connection presenting an Identity in use (libzmq's
//     default without ZMQ_ROUTER_HANDOVER); the peer reconnects with
//     backoff and gets it once the holder has gone.
//   - WithRouterHandover (ZMQ_ROUTER_HANDOVER): the newcomer takes the
//     identity at once; the previous holder is closed after its queue is
//     flushed, within the linger period. The Queue device uses it.
//   - WithRouterMandatory (ZMQ_ROUTER_MANDATORY): Send to an unknown id
//     returns ErrHostUnreachable (EHOSTUNREACH), Send to a peer at its HWM
//     blocks honouring the context; without it both are dropped and
//     counted.
//
// Connections and peers:
//
//   - Connect resolves the endpoint's name on every attempt, through
//     WithDialer (default: a net.Dialer and the system resolver), so a
//     Service or pod name that moves to a new address is followed.
//   - WithConnectTimeout (ZMQ_CONNECT_TIMEOUT) bounds each attempt;
//     default 3 s rather than libzmq's 0 (the kernel's SYN retries, about
//     2 minutes), because a deleted pod's address drops SYNs.
//   - WithReconnectInterval (ZMQ_RECONNECT_IVL, ZMQ_RECONNECT_IVL_MAX):
//     100 ms doubling to 5 s; the interval returns to its minimum only
//     once a connection stayed up for the maximum, so a peer that drops us
//     right after the handshake is not hammered.
//   - Before its first peer is up a connecting socket has no queue (like
//     ZMQ_IMMEDIATE=1): PUSH, DEALER, REQ and PAIR block in Send, PUB
//     drops. libzmq's default queues on the pending connection instead.
//   - WithMaxMsgSize (ZMQ_MAXMSGSIZE; default 64 MiB, libzmq unlimited)
//     bounds a whole message (libzmq 4.3 bounds each frame): a peer over
//     it is disconnected before the body is allocated, the message is
//     lost, Stats.OversizeDisconnects counts it and WithDisconnectObserver
//     is told with ErrFrameTooLarge.
//   - When a PUSH or DEALER peer leaves, the messages queued for it that
//     had not reached its kernel socket buffer go to the remaining peers
//     (Stats.Requeued); libzmq drops them. The octets the kernel had
//     already accepted for the dead connection can still be lost: ZeroMQ
//     has no acknowledgements.
//
// Proxy(ctx, frontend, backend) is the core of the devices: Forwarder
// (XSUB -> XPUB), Streamer (PULL -> PUSH), Queue (ROUTER <-> DEALER).
//
// # Engine
//
// Each connection has a reader and a writer goroutine with 64 KiB bufio
// buffers. The writer drains a per-peer queue and flushes only when the
// queue is empty, so a burst costs one write syscall; the reader decodes
// every frame one read returned and hands complete messages to the socket
// in one batch. Small frame bodies are carved from a slab. Size limits
// (WithMaxMsgSize, default 64 MiB) are checked from the size field before
// any allocation; with no limit, bodies are still allocated only as their
// bytes arrive. Handshakes run with a deadline (WithHandshakeTimeout) in
// their own goroutine, so a silent client never delays a real peer.
//
// Heartbeats (WithHeartbeat): PINGs from any peer are always answered with
// a PONG; we send PINGs only to ZMTP 3.1 peers (go-zeromq/zmq4 speaks 3.0
// and would hand a PING to its application), and honour the TTL a peer
// announces.
//
// # Security: CURVE
//
// Sockets speak the NULL mechanism unless configured for CURVE (RFC 26,
// CurveZMQ over ZMTP 3.x), which authenticates the server to its clients
// and each client to the server and encrypts every frame, commands
// included. Roles are independent of bind and connect:
//
//	pub, sec, _ := zmtp.GenerateCurveKeyPair()            // or ParseCurveSecretKey(z85)
//	srv, _ := zmtp.NewSocket(zmtp.PULL, zmtp.WithCurveServer(sec),
//		zmtp.WithCurveAuthorizer(zmtp.CurveAllowList(clientPub)))
//	cli, _ := zmtp.NewSocket(zmtp.PUSH, zmtp.WithCurveClient(pub, clientPub, clientSec))
//
// Keys are 32 octets, written as 40 characters of Z85 (RFC 32:
// Z85Encode, Z85Decode); a CurveSecretKey never prints. The boxes are NaCl
// crypto_box and crypto_secretbox from golang.org/x/crypto; nonces follow
// RFC 26 (short nonces strictly increase, so a replayed or reordered
// command or MESSAGE closes the connection); keys and vouches are compared
// in constant time; short-term secrets are cleared after use. The server
// answers only a HELLO boxed to its own key (HELLO is padded to be longer
// than WELCOME: no amplification), keeps its short-term secret only inside
// the cookie it sends (sealed with a per-socket cookie key replaced every
// minute; a cookie lives at most two minutes) and accepts an INITIATE only
// with the cookie sent on the same connection, so a replayed INITIATE is
// refused. A client the authoriser refuses gets ERROR "400" (what libzmq's
// ZAP refusal sends). Every authentication failure is counted in
// Stats.AuthFailures. After the handshake each frame travels as a MESSAGE
// command (flags inside the box), sent like libzmq's.
//
// # Prober
//
// Probe(ctx, endpoint, ProbeOptions{}) connects, exchanges greetings, reads
// the peer's READY and reports version, mechanism, Socket-Type, Identity
// and latency, under one deadline. By default it never sends its own
// READY, so the peer never attaches it as a pipe and never routes a
// message to it. Against a ZMTP 3.0 peer (go-zeromq/zmq4, which leaks a
// file descriptor per abandoned handshake) it completes the handshake as a
// silent compatible type (SilentPeer), never against PUSH, DEALER, REQ or
// PAIR. ProbePing additionally measures a PING round trip against 3.1
// peers that have a silent partner. A non-ZMTP server is reported as
// errors.Is(err, ErrNotZMTP): from its first octets when it speaks first,
// or at the deadline when it accepted the connection and never sent a
// greeting (RFC 23: a ZMTP peer sends its greeting at once).
//
// # Testing and fuzzing
//
//	go test ./pkg/zmtp/                      # unit, hostile-peer, example tests; runs the fuzz seeds
//	go test -race ./pkg/zmtp/...
//	cd test/interop && go test ./...         # against libzmq (cgo, libzmq3-dev) and go-zeromq/zmq4
//	cd test/interop && go run ./cmd/bench    # throughput table: ours vs libzmq vs go-zeromq/zmq4
//
// Each fuzz target runs for 60 s without a crash with:
//
//	go test ./pkg/zmtp/ -run '^$' -fuzz '^FuzzGreeting$'  -fuzztime 60s
//	go test ./pkg/zmtp/ -run '^$' -fuzz '^FuzzReadFrame$' -fuzztime 60s
//	go test ./pkg/zmtp/ -run '^$' -fuzz '^FuzzCommand$'   -fuzztime 60s
//
// and for CURVE, FuzzCurveHello, FuzzCurveWelcome, FuzzCurveInitiate,
// FuzzCurveReady, FuzzCurveMessage and FuzzCurveServerHandshake the same
// way (their recorded seeds: ZMTP_WRITE_CURVE_SEEDS=1 go test -run
// TestWriteCurveSeeds).
//
// The seed corpora in testdata/fuzz were captured from libzmq 4.3.4 by
// test/interop's TestCaptureLibzmqSeeds (ZMTP_WRITE_SEEDS=1 rewrites them).
package zmtp
