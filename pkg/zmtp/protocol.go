package zmtp

import (
	"errors"
	"fmt"
	"strings"
)

// Wire constants from RFC 23 (ZMTP 3.0) and RFC 37 (ZMTP 3.1).
const (
	// greetingSize is the length of a ZMTP 3.x greeting (RFC 23 §"Greeting").
	greetingSize = 64
	// signatureSize is the part of the greeting that identifies ZMTP:
	// %xFF padding(8) %x7F (RFC 23 §"Version Negotiation").
	signatureSize = 10
	// mechanismSize is the NUL-padded mechanism name field of the greeting.
	mechanismSize = 20

	// VersionMajor is the ZMTP major version this package speaks.
	VersionMajor = 3
	// VersionMinor is the ZMTP minor version this package speaks (3.1).
	VersionMinor = 1

	// Frame flags (RFC 23 §"Framing"): bits 7-3 are reserved and MUST be zero.
	flagMore     = 0x01
	flagLong     = 0x02
	flagCommand  = 0x04
	flagReserved = 0xF8

	// Command names (RFC 23 §"Commands", RFC 37 §"PING/PONG", §"SUBSCRIBE").
	cmdReady     = "READY"
	cmdError     = "ERROR"
	cmdPing      = "PING"
	cmdPong      = "PONG"
	cmdSubscribe = "SUBSCRIBE"
	cmdCancel    = "CANCEL"

	// MechanismNull is the name of the NULL security mechanism (RFC 23).
	MechanismNull = "NULL"

	// maxPingContext is the largest PING context RFC 37 allows (16 octets).
	maxPingContext = 16

	// maxCommandSize bounds a command body independently of the message
	// limit: READY metadata and PING/ERROR are small; a peer claiming a
	// larger command is hostile.
	maxCommandSize = 1 << 20
)

// Metadata property names (RFC 23 §"The NULL Security Mechanism").
const (
	PropSocketType = "Socket-Type"
	PropIdentity   = "Identity"
)

// SocketType is a ZeroMQ socket type as carried in the READY Socket-Type
// property.
type SocketType uint8

// Socket types (RFC 23/37 and the ZeroMQ socket-pattern RFCs 28, 29, 30, 31).
const (
	PAIR SocketType = iota + 1
	PUB
	SUB
	REQ
	REP
	DEALER
	ROUTER
	PULL
	PUSH
	XPUB
	XSUB
)

var socketTypeNames = [...]string{
	PAIR: "PAIR", PUB: "PUB", SUB: "SUB", REQ: "REQ", REP: "REP",
	DEALER: "DEALER", ROUTER: "ROUTER", PULL: "PULL", PUSH: "PUSH",
	XPUB: "XPUB", XSUB: "XSUB",
}

// String returns the wire name of t ("PUSH"), or "SocketType(n)" if unknown.
func (t SocketType) String() string {
	if int(t) < len(socketTypeNames) && socketTypeNames[t] != "" {
		return socketTypeNames[t]
	}
	return fmt.Sprintf("SocketType(%d)", uint8(t))
}

// ParseSocketType maps a Socket-Type property value (case-insensitive) to a
// SocketType.
func ParseSocketType(s string) (SocketType, error) {
	for i, n := range socketTypeNames {
		if n != "" && strings.EqualFold(n, s) {
			return SocketType(i), nil
		}
	}
	return 0, fmt.Errorf("zmtp: unknown socket type %q", s)
}

// peers is the RFC 37 §"Socket Compatibility" table (plus XPUB/XSUB from
// RFC 29): the socket types each type may talk to.
var peers = map[SocketType][]SocketType{
	PAIR:   {PAIR},
	PUB:    {SUB, XSUB},
	SUB:    {PUB, XPUB},
	XPUB:   {SUB, XSUB},
	XSUB:   {PUB, XPUB},
	REQ:    {REP, ROUTER},
	REP:    {REQ, DEALER},
	DEALER: {REP, DEALER, ROUTER},
	ROUTER: {REQ, DEALER, ROUTER},
	PUSH:   {PULL},
	PULL:   {PUSH},
}

// Compatible reports whether sockets of types a and b may be connected,
// per RFC 37. The relation is symmetric.
func Compatible(a, b SocketType) bool {
	for _, p := range peers[a] {
		if p == b {
			return true
		}
	}
	return false
}

// Sentinel errors. Compare with errors.Is.
var (
	// ErrNotZMTP means the peer did not send a ZMTP signature: it is some
	// other protocol (HTTP, TLS, ...).
	ErrNotZMTP = errors.New("zmtp: peer is not speaking ZMTP")
	// ErrUnsupportedVersion means the peer speaks ZMTP older than 3.0.
	ErrUnsupportedVersion = errors.New("zmtp: unsupported ZMTP version")
	// ErrFrameTooLarge means a frame or message exceeds the configured
	// maximum size; it is detected from the size field, before allocating.
	ErrFrameTooLarge = errors.New("zmtp: frame exceeds maximum message size")
	// ErrIncompatible means the peer's Socket-Type cannot talk to ours.
	ErrIncompatible = errors.New("zmtp: incompatible peer socket type")
	// ErrNotConnected is returned by Disconnect for an endpoint the socket
	// is not connected to (libzmq's ENOENT from zmq_disconnect).
	ErrNotConnected = errors.New("zmtp: endpoint not connected")
	// ErrClosed is returned by operations on a closed Socket.
	ErrClosed = errors.New("zmtp: socket closed")
	// ErrState is returned when a REQ/REP socket is used out of order.
	ErrState = errors.New("zmtp: operation not valid in the socket's current state")
	// ErrNotSupported is returned by Send/Recv/Subscribe on socket types
	// that do not have that operation (Send on PULL, Recv on PUSH, ...).
	ErrNotSupported = errors.New("zmtp: operation not supported by this socket type")
	// ErrPeerError means the peer sent an ERROR command.
	ErrPeerError = errors.New("zmtp: peer sent ERROR")
	// ErrHeartbeatTimeout means a peer stopped answering heartbeats.
	ErrHeartbeatTimeout = errors.New("zmtp: heartbeat timeout")
)

// ProtocolError reports a violation of the ZMTP wire protocol by the peer.
// It matches errors.Is(err, ErrNotZMTP) when the signature was wrong and
// errors.Is(err, ErrFrameTooLarge) for oversize frames.
type ProtocolError struct {
	// Stage is where the violation happened: "greeting", "handshake" or "traffic".
	Stage string
	// Reason is a human-readable description.
	Reason string
	// Err is the sentinel cause, if any.
	Err error
}

// Error implements error.
func (e *ProtocolError) Error() string {
	return "zmtp: protocol error in " + e.Stage + ": " + e.Reason
}

// Unwrap returns the sentinel cause.
func (e *ProtocolError) Unwrap() error { return e.Err }

func protoErr(stage, reason string, cause error) *ProtocolError {
	return &ProtocolError{Stage: stage, Reason: reason, Err: cause}
}

// Msg is a ZeroMQ message: one or more frames. Sockets take ownership of a
// Msg passed to Send; do not modify its frames afterwards.
type Msg [][]byte

// NewMsg returns a message made of the given frames.
func NewMsg(frames ...[]byte) Msg { return Msg(frames) }

// NewMsgString returns a message with one frame per string.
func NewMsgString(frames ...string) Msg {
	m := make(Msg, len(frames))
	for i, f := range frames {
		m[i] = []byte(f)
	}
	return m
}

// Size returns the total number of body bytes in the message.
func (m Msg) Size() int {
	n := 0
	for _, f := range m {
		n += len(f)
	}
	return n
}
