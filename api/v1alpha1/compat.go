package v1alpha1

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

// Pattern names the pattern of a link between a bound socket and a
// connecting socket, bound type first, as shown in status ("PUSH-PULL").
func Pattern(bound, connecting SocketType) string {
	return string(bound) + "-" + string(connecting)
}

// deviceLayouts are the socket types each device's frontend and backend
// must have.
var deviceLayouts = map[DeviceType]struct{ Frontend, Backend SocketType }{
	Forwarder: {Frontend: XSUB, Backend: XPUB},
	Streamer:  {Frontend: PULL, Backend: PUSH},
	Queue:     {Frontend: ROUTER, Backend: DEALER},
}

// Device socket names.
const (
	DeviceFrontend = "frontend"
	DeviceBackend  = "backend"
)

// DeviceLayout returns the socket types of a device's frontend and backend;
// ok is false for an unknown device type.
func DeviceLayout(t DeviceType) (frontend, backend SocketType, ok bool) {
	l, ok := deviceLayouts[t]
	return l.Frontend, l.Backend, ok
}
