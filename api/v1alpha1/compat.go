package v1alpha1

import "github.com/zmq-operator/zmq-operator/pkg/zmqconfig"

// peers is ZMTP's socket-type compatibility table (RFC 37, "Socket types"
// and RFC 23 section 3.2): a socket of the key type may only talk to sockets
// of the listed types. It is symmetric; TestPeersSymmetric checks that.
var peers = map[SocketType][]SocketType{
	PAIR:   {PAIR},
	PUB:    {SUB, XSUB},
	SUB:    {PUB, XPUB},
	XPUB:   {SUB, XSUB},
	XSUB:   {PUB, XPUB},
	PUSH:   {PULL},
	PULL:   {PUSH},
	REQ:    {REP, ROUTER},
	REP:    {REQ, DEALER},
	DEALER: {REP, DEALER, ROUTER},
	ROUTER: {REQ, DEALER, ROUTER},
}

// Compatible reports whether sockets of types a and b may be connected.
func Compatible(a, b SocketType) bool {
	for _, p := range peers[a] {
		if p == b {
			return true
		}
	}
	return false
}

// CompatiblePeers returns the socket types a socket of type t may talk to.
func CompatiblePeers(t SocketType) []SocketType {
	return append([]SocketType(nil), peers[t]...)
}

// patternOrder ranks socket types so that a pattern is named the way
// ZeroMQ's guide names it, whichever side binds: the sender or requester
// first (PUSH-PULL, PUB-XSUB, XPUB-SUB, REQ-ROUTER, DEALER-REP).
var patternOrder = map[SocketType]int{
	PAIR: 0, PUB: 1, XPUB: 2, SUB: 3, XSUB: 4, PUSH: 5, PULL: 6, REQ: 7, DEALER: 8, REP: 9, ROUTER: 10,
}

// Pattern names the pattern of a link between sockets of types a and b, in
// conventional order ("PUSH-PULL"), as shown in status.
func Pattern(a, b SocketType) string {
	if patternOrder[b] < patternOrder[a] {
		a, b = b, a
	}
	return string(a) + "-" + string(b)
}

// deviceLayouts are the socket types each device's frontend and backend
// must have.
var deviceLayouts = map[DeviceType]struct{ Frontend, Backend SocketType }{
	Forwarder: {Frontend: XSUB, Backend: XPUB},
	Streamer:  {Frontend: PULL, Backend: PUSH},
	Queue:     {Frontend: ROUTER, Backend: DEALER},
}

// Device socket names, as the device binary expects them.
const (
	DeviceFrontend = zmqconfig.DeviceFrontend
	DeviceBackend  = zmqconfig.DeviceBackend
)

// DeviceLayout returns the socket types of a device's frontend and backend;
// ok is false for an unknown device type.
func DeviceLayout(t DeviceType) (frontend, backend SocketType, ok bool) {
	l, ok := deviceLayouts[t]
	return l.Frontend, l.Backend, ok
}
