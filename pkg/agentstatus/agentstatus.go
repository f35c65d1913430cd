// Package agentstatus is the contract of the zmq-sidecar agent's
// GET /status endpoint: what one pod's agent knows about its sockets and
// the peers they reach. The agent (sidecar/) encodes a Document; the
// operator's status poller and kubectl-zmq decode it. Both import this
// package, so the two sides cannot drift apart.
//
// The document is JSON, versioned by APIVersion. Fields are only ever
// added within a version; a reader must ignore fields it does not know and
// refuse a Document whose APIVersion it does not know.
package agentstatus

import "time"

// APIVersion is the version of the Document this package describes.
const APIVersion = "zmq.topology.dev/agent-status/v1"

// Path is the HTTP path of the document on the agent's port (9917 by
// default, the same port as /readyz, /healthz and /metrics).
const Path = "/status"

// Document is the body of GET /status.
type Document struct {
	// APIVersion is always the package's APIVersion.
	APIVersion string `json:"apiVersion"`
	// Topology, Namespace and Component the pod belongs to, from its
	// mounted configuration (/etc/zmq/topology.json).
	Topology  string `json:"topology"`
	Namespace string `json:"namespace"`
	Component string `json:"component"`
	// Pod is the pod's name (the POD_NAME environment variable, or the
	// hostname).
	Pod string `json:"pod"`
	// Time is when the agent wrote the document (RFC 3339).
	Time time.Time `json:"time"`
	// Sockets in the order of the configuration.
	Sockets []Socket `json:"sockets"`
}

// Socket is one socket of the component.
type Socket struct {
	// Name of the socket within its component.
	Name string `json:"name"`
	// Type is the ZeroMQ socket type, such as "PUSH".
	Type string `json:"type"`
	// Bind is true for a socket that binds, false for one that connects.
	Bind bool `json:"bind"`
	// Port is the bound TCP port (bound sockets only).
	Port int32 `json:"port,omitempty"`
	// Listener is the readiness probe of a bound socket: the agent's ZMTP
	// probe of its own pod's port. Nil for connecting sockets.
	Listener *Probe `json:"listener,omitempty"`
	// Peers are the endpoints a connecting socket reaches, one per
	// endpoint of its configuration, each probed by the agent. Empty for
	// bound sockets.
	Peers []Peer `json:"peers,omitempty"`
	// Connections is the number of the socket's open TCP connections
	// (from sock_diag), the application's own, not the agent's probes.
	Connections int `json:"connections"`
	// BytesSent and BytesReceived over those connections since the agent
	// started (bytes acknowledged by the peer, bytes received).
	BytesSent     uint64 `json:"bytesSent"`
	BytesReceived uint64 `json:"bytesReceived"`
	// SendQueueBytes and ReceiveQueueBytes are what the kernel holds in the
	// connections' send queues (not yet acknowledged: backpressure from the
	// peers) and receive queues (not yet read by the application).
	SendQueueBytes    uint64 `json:"sendQueueBytes"`
	ReceiveQueueBytes uint64 `json:"receiveQueueBytes"`
}

// Peer is one endpoint of a connecting socket.
type Peer struct {
	// Endpoint as configured, such as "tcp://pipe-ventilator-0.pipe-ventilator:5557".
	Endpoint string `json:"endpoint"`
	// Addresses the endpoint's host resolved to at the last probe
	// ("10.0.0.7:5557").
	Addresses []string `json:"addresses,omitempty"`
	// Connections is the number of the application's TCP connections to
	// those addresses (from sock_diag).
	Connections int `json:"connections"`
	Probe
}

// Probe is the outcome of the agent's last ZMTP probe of one target:
// TCP connect, greeting, READY with the expected Socket-Type, then PING
// where the pattern allows (see ZMQ-NOTES' probe-safety rules).
type Probe struct {
	// Probed is false until the first probe finished.
	Probed bool `json:"probed"`
	// Up is true when the last probe succeeded.
	Up bool `json:"up"`
	// LastError is the last failed probe's error, such as
	// "dial tcp 10.0.0.7:5557: connect: connection refused"; empty when Up.
	LastError string `json:"lastError,omitempty"`
	// LastProbe is when the last probe finished.
	LastProbe time.Time `json:"lastProbe,omitzero"`
	// HandshakeMicros is the time from the start of the probe to the
	// peer's READY, in microseconds.
	HandshakeMicros int64 `json:"handshakeMicros,omitempty"`
	// PingRTTMicros is the ZMTP 3.1 PING/PONG round trip, in microseconds;
	// zero when the peer does not speak 3.1 or its type forbids a silent
	// handshake.
	PingRTTMicros int64 `json:"pingRTTMicros,omitempty"`
	// ZMTPVersion the peer announced, such as "3.1".
	ZMTPVersion string `json:"zmtpVersion,omitempty"`
	// PeerSocketType is the Socket-Type in the peer's READY, such as "PULL".
	PeerSocketType string `json:"peerSocketType,omitempty"`
	// Successes and Failures count probes since the agent started.
	Successes uint64 `json:"successes"`
	Failures  uint64 `json:"failures"`
}

// RTTMicros is the probe's round trip: the PING RTT when measured,
// otherwise the handshake latency.
func (p Probe) RTTMicros() int64 {
	if p.PingRTTMicros > 0 {
		return p.PingRTTMicros
	}
	return p.HandshakeMicros
}
