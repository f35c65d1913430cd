package v1alpha1

import (
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// SocketTypes lists every socket type of the API.
var SocketTypes = []SocketType{PAIR, PUB, SUB, XPUB, XSUB, PUSH, PULL, REQ, REP, DEALER, ROUTER}

// Compatible reports whether sockets of types a and b may be connected. The
// table itself (RFC 37) lives in pkg/zmtp, which enforces it at handshake;
// validation uses the same one.
func Compatible(a, b SocketType) bool {
	ta, errA := zmtp.ParseSocketType(string(a))
	tb, errB := zmtp.ParseSocketType(string(b))
	return errA == nil && errB == nil && zmtp.Compatible(ta, tb)
}

// CompatiblePeers returns the socket types a socket of type t may talk to.
func CompatiblePeers(t SocketType) []SocketType {
	var out []SocketType
	for _, p := range SocketTypes {
		if Compatible(t, p) {
			out = append(out, p)
		}
	}
	return out
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

// MaxDeviceIOThreads is the largest device.ioThreads, the most the device
// binary's --io-threads accepts.
const MaxDeviceIOThreads = zmqconfig.MaxDeviceIOThreads

// DeviceLayout returns the socket types of a device's frontend and backend;
// ok is false for an unknown device type.
func DeviceLayout(t DeviceType) (frontend, backend SocketType, ok bool) {
	l, ok := deviceLayouts[t]
	return l.Frontend, l.Backend, ok
}
