package zmtp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// The CURVE security mechanism (ZeroMQ RFC 26, CurveZMQ, as carried by ZMTP
// 3.x, RFC 23 §"The CURVE Security Mechanism"). Roles are independent of
// bind and connect: a socket configured with WithCurveServer is the server
// on every connection, one configured with WithCurveClient the client.
//
//	C→S  HELLO     version, 72 zero octets, C', short nonce, Box[64 zeros](C'→S)
//	S→C  WELCOME   long nonce, Box[S' + cookie](S→C'),
//	               cookie = nonce + SecretBox[C' + s'](K)
//	C→S  INITIATE  cookie, short nonce, Box[C + vouch + metadata](C'→S'),
//	               vouch = long nonce + Box[C' + S](C→S')
//	S→C  READY     short nonce, Box[metadata](S'→C')   (or ERROR in clear)
//	both MESSAGE   short nonce, Box[flags + frame](C'↔S')
//
// All boxes are NaCl crypto_box (golang.org/x/crypto/nacl/box) and the
// cookie a crypto_secretbox; nothing here implements a primitive. The
// padding makes HELLO (200 octets) longer than WELCOME (168), so the server
// never amplifies an unauthenticated client's traffic.

// MechanismCurve is the name of the CURVE security mechanism (RFC 26).
const MechanismCurve = "CURVE"

// Nonce prefixes (RFC 26): 16 octets before a short (8-octet, counting)
// nonce, 8 octets before a long (16-octet, random) nonce.
const (
	noncePrefixHello    = "CurveZMQHELLO---"
	noncePrefixWelcome  = "WELCOME-"
	noncePrefixInitiate = "CurveZMQINITIATE"
	noncePrefixReady    = "CurveZMQREADY---"
	noncePrefixMsgC     = "CurveZMQMESSAGEC"
	noncePrefixMsgS     = "CurveZMQMESSAGES"
	noncePrefixVouch    = "VOUCH---"
	noncePrefixCookie   = "COOKIE--"
)

// Command names and sizes (RFC 26 §"Commands").
const (
	cmdHello    = "HELLO"
	cmdWelcome  = "WELCOME"
	cmdInitiate = "INITIATE"
	cmdMessage  = "MESSAGE"

	// helloDataSize: version (2) + padding (72) + C' (32) + nonce (8) +
	// box of 64 zeros (80).
	helloDataSize    = 2 + helloPadding + 32 + 8 + 80
	helloPadding     = 72
	helloZeros       = 64
	welcomeDataSize  = 16 + 144 // long nonce + Box[S' + cookie]
	cookieSize       = 16 + 80  // long nonce + SecretBox[C' + s']
	vouchSize        = 16 + 80  // long nonce + Box[C' + S]
	initiateMinSize  = cookieSize + 8 + box.Overhead + 32 + vouchSize
	readyMinSize     = 8 + box.Overhead
	messageHeader    = 1 + len(cmdMessage) + 8 // name, short nonce
	messageOverhead  = messageHeader + box.Overhead + 1
	cookieKeyRotate  = time.Minute
	curveZAPRefusal  = "400" // RFC 27 status code libzmq sends on refusal
	innerFlagMore    = 0x01  // MESSAGE flags inside the box (RFC 26)
	innerFlagCommand = 0x02
)

// ErrAuth means a CURVE handshake failed authentication: a box did not
// open (a wrong server key on either side, a forged or replayed cookie),
// the vouch did not match, or the server's authoriser refused the client.
// Such connections are counted in Stats.AuthFailures.
var ErrAuth = errors.New("zmtp: CURVE authentication failed")

// CurveAuthorizer decides whether a CURVE client that proved it holds the
// secret key of client may connect (the role of libzmq's ZAP handler,
// RFC 27). remote is the peer's address. A non-nil error refuses the
// client: it gets an ERROR command with reason "400" (what libzmq sends
// for a ZAP refusal) and the connection counts in Stats.AuthFailures.
type CurveAuthorizer func(remote string, client CurvePublicKey) error

// CurveAllowList returns a CurveAuthorizer accepting exactly the given
// client public keys (compared in constant time).
func CurveAllowList(keys ...CurvePublicKey) CurveAuthorizer {
	allowed := append([]CurvePublicKey(nil), keys...)
	return func(_ string, client CurvePublicKey) error {
		ok := false
		for _, k := range allowed {
			// No early exit: the time taken does not depend on which
			// key matched.
			if k.Equal(client) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("client key %s is not in the allow-list", client)
		}
		return nil
	}
}

// curveRole is a socket's CURVE role.
type curveRole int

const (
	curveRoleNone curveRole = iota // only WithCurveAuthorizer was given
	curveRoleServer
	curveRoleClient
)

// curveOptions is a socket's CURVE configuration.
type curveOptions struct {
	role curveRole
	// Long-term keys: ours, and (client) the server's.
	public     CurvePublicKey
	secret     CurveSecretKey
	serverKey  CurvePublicKey
	authorizer CurveAuthorizer
	cookies    *cookieKeys
	err        error // reported by NewSocket
}

// WithCurveServer makes the socket a CURVE server on every connection
// (libzmq's ZMQ_CURVE_SERVER=1 with ZMQ_CURVE_SECRETKEY). Without
// WithCurveAuthorizer every client that completes the handshake is
// accepted, as libzmq does without a ZAP handler.
func WithCurveServer(secret CurveSecretKey) Option {
	return func(o *options) {
		c := &curveOptions{role: curveRoleServer, secret: secret}
		c.public, c.err = secret.Public()
		if o.curve != nil {
			c.authorizer = o.curve.authorizer
		}
		o.curve = c
	}
}

// WithCurveClient makes the socket a CURVE client on every connection
// (libzmq's ZMQ_CURVE_SERVERKEY, ZMQ_CURVE_PUBLICKEY, ZMQ_CURVE_SECRETKEY).
// NewSocket fails if clientPublic is not the public key of clientSecret.
func WithCurveClient(serverPublic, clientPublic CurvePublicKey, clientSecret CurveSecretKey) Option {
	return func(o *options) {
		c := &curveOptions{role: curveRoleClient, public: clientPublic, secret: clientSecret, serverKey: serverPublic}
		if derived, err := clientSecret.Public(); err != nil {
			c.err = err
		} else if !derived.Equal(clientPublic) {
			c.err = errors.New("zmtp: WithCurveClient: clientPublic is not the public key of clientSecret")
		}
		o.curve = c
	}
}

// WithCurveAuthorizer sets the function a CURVE server asks about each
// client key (see CurveAuthorizer, CurveAllowList). It has no effect on a
// CURVE client or a NULL socket.
func WithCurveAuthorizer(f CurveAuthorizer) Option {
	return func(o *options) {
		if o.curve == nil {
			o.curve = &curveOptions{}
		}
		o.curve.authorizer = f
	}
}

// init checks the configuration and creates the server's cookie keys;
// NewSocket calls it once.
func (c *curveOptions) init(clk clock) error {
	if c.err != nil {
		return c.err
	}
	switch c.role {
	case curveRoleNone:
		return errors.New("zmtp: WithCurveAuthorizer needs WithCurveServer")
	case curveRoleServer:
		c.cookies = newCookieKeys(clk)
	}
	return nil
}

// mechanism returns the security mechanism for a new connection.
func (o *options) mechanism() mechanism {
	switch {
	case o.curve == nil:
		return nullMechanism{}
	case o.curve.role == curveRoleServer:
		return &curveServer{opts: o.curve}
	default:
		return &curveClient{opts: o.curve}
	}
}

// cookieKeys is a CURVE server's cookie key K (RFC 26 §"The WELCOME
// Command"): one per socket, replaced every minute, the previous one kept
// for a further minute so a handshake that straddles a rotation
// completes. A cookie is thus valid for at most two minutes, and the
// server holds no secret per connection between WELCOME and INITIATE.
type cookieKeys struct {
	mu      sync.Mutex
	clock   clock
	cur     [32]byte
	prev    [32]byte
	hasPrev bool
	born    time.Time
}

func newCookieKeys(c clock) *cookieKeys {
	if c == nil {
		c = realClock{}
	}
	return &cookieKeys{clock: c}
}

// rotateLocked replaces expired keys; the zero time means no key yet.
func (ck *cookieKeys) rotateLocked() error {
	now := ck.clock.now()
	age := now.Sub(ck.born)
	if !ck.born.IsZero() && age < cookieKeyRotate {
		return nil
	}
	if !ck.born.IsZero() && age < 2*cookieKeyRotate {
		ck.prev, ck.hasPrev = ck.cur, true
	} else {
		clear(ck.prev[:])
		ck.hasPrev = false
	}
	if _, err := rand.Read(ck.cur[:]); err != nil {
		return fmt.Errorf("zmtp: CURVE cookie key: %w", err)
	}
	ck.born = now
	return nil
}

// current returns the key to seal new cookies with.
func (ck *cookieKeys) current() ([32]byte, error) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if err := ck.rotateLocked(); err != nil {
		return [32]byte{}, err
	}
	return ck.cur, nil
}

// candidates returns the keys a cookie may have been sealed with.
func (ck *cookieKeys) candidates() (keys [2][32]byte, n int, err error) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if err := ck.rotateLocked(); err != nil {
		return keys, 0, err
	}
	keys[0], n = ck.cur, 1
	if ck.hasPrev {
		keys[1], n = ck.prev, 2
	}
	return keys, n, nil
}

// shortNonce builds a 24-octet nonce from a 16-octet prefix and a counter.
func shortNonce(prefix string, n uint64) *[24]byte {
	var b [24]byte
	copy(b[:16], prefix)
	binary.BigEndian.PutUint64(b[16:], n)
	return &b
}

// longNonce builds a 24-octet nonce from an 8-octet prefix and 16 octets.
func longNonce(prefix string, tail []byte) *[24]byte {
	var b [24]byte
	copy(b[:8], prefix)
	copy(b[8:], tail)
	return &b
}

// randomLong returns 16 random octets for a long nonce.
func randomLong() ([16]byte, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return b, fmt.Errorf("zmtp: CURVE nonce: %w", err)
	}
	return b, nil
}

// authErr is a handshake failure caused by authentication.
func authErr(reason string) error {
	return &ProtocolError{Stage: "handshake", Reason: "CURVE: " + reason, Err: ErrAuth}
}

// curveErr is a malformed CURVE command.
func curveErr(reason string) error {
	return protoErr("handshake", "CURVE: "+reason, nil)
}

// expectCommand reads the next handshake command, which must be name; a
// peer's ERROR is reported as ErrPeerError.
func expectCommand(h *handshakeIO, name string) ([]byte, error) {
	cmd, err := h.readCommand()
	if err != nil {
		return nil, err
	}
	switch cmd.Name {
	case name:
		return cmd.Data, nil
	case cmdError:
		reason, perr := parseError(cmd.Data)
		if perr != nil {
			return nil, perr
		}
		cause := ErrPeerError
		if reason == curveZAPRefusal {
			// The server's authoriser refused our key.
			cause = errors.Join(ErrPeerError, ErrAuth)
		}
		return nil, &ProtocolError{Stage: "handshake", Reason: "peer ERROR: " + quoteName(reason), Err: cause}
	default:
		return nil, curveErr("unexpected command " + quoteName(cmd.Name) + ", want " + name)
	}
}
