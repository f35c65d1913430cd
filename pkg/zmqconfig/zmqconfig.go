// Package zmqconfig defines the resolved socket configuration of one
// component of a ZMQTopology: the JSON document the operator mounts at
// /etc/zmq/topology.json in every pod, and the environment variables it
// injects beside it. The operator writes it; the sidecar, the devices and
// applications read it. It depends only on the standard library.
package zmqconfig

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Path is where the operator mounts the component's Config in every
// container, and FileName is its base name in the ConfigMap.
const (
	MountDir = "/etc/zmq"
	FileName = "topology.json"
	Path     = MountDir + "/" + FileName
)

// The sockets of a device are named DeviceFrontend and DeviceBackend.
const (
	DeviceFrontend = "frontend"
	DeviceBackend  = "backend"
)

// A device process runs its Go code on DefaultDeviceIOThreads threads at
// once (GOMAXPROCS), one as libzmq's default number of I/O threads
// (ZMQ_IO_THREADS), unless its --io-threads flag, rendered from
// spec.components[].device.ioThreads, or a GOMAXPROCS environment variable
// says otherwise. The flag takes 0 (Go's default: the container's CPU
// limit rounded up, at least 2, else every CPU) to MaxDeviceIOThreads.
const (
	DefaultDeviceIOThreads = 1
	MaxDeviceIOThreads     = 64
)

// FormatVersion is the version of the file format this package writes and
// reads (Config.Version). It changes whenever a field is added or changes
// meaning, so that a reader meeting a newer file fails loudly instead of
// misreading it.
const FormatVersion = 1

// Config is the resolved socket configuration of one component.
type Config struct {
	// Version is the file format's version, FormatVersion when written by
	// this package; 0 (absent) in files written before versions existed,
	// which have the same fields as version 1.
	Version int `json:"version"`
	// Topology, Namespace and Component name where this configuration
	// belongs.
	Topology  string `json:"topology"`
	Namespace string `json:"namespace"`
	Component string `json:"component"`
	// Device is the device type ("Forwarder", "Streamer", "Queue") of an
	// operator-managed proxy, empty for applications.
	Device string `json:"device,omitempty"`
	// Sockets in declaration order.
	Sockets []Socket `json:"sockets"`
}

// Socket is one resolved socket.
type Socket struct {
	// Name of the socket within its component.
	Name string `json:"name"`
	// Type is the ZeroMQ socket type, such as "PUSH".
	Type string `json:"type"`
	// Bind is true when the socket binds Endpoints, false when it connects
	// to each of them.
	Bind bool `json:"bind"`
	// Port is the bound TCP port (bound sockets only).
	Port int32 `json:"port,omitempty"`
	// Endpoints are ZeroMQ endpoints: "tcp://*:<port>" for a bound socket,
	// every address to connect to otherwise.
	Endpoints []string `json:"endpoints"`
	// Peer is the bound socket a connecting socket targets, when it belongs
	// to the topology.
	Peer *Peer `json:"peer,omitempty"`
	// Options are the socket options after merging the topology's defaults
	// with the socket's overrides; unset options are omitted.
	Options Options `json:"options,omitempty"`
	// Security is the socket's security mechanism and key files; nil is
	// the NULL mechanism (see Security).
	Security *Security `json:"security,omitempty"`
}

// Peer names the bound socket that a connecting socket targets.
type Peer struct {
	Component string `json:"component"`
	Socket    string `json:"socket"`
	Type      string `json:"type"`
}

// Options are ZeroMQ socket options; nil means the library default. Each
// is named after its libzmq option; durations are in milliseconds (or
// seconds where the name says so), sizes in bytes.
type Options struct {
	SndHWM                *int32 `json:"sndhwm,omitempty"`
	RcvHWM                *int32 `json:"rcvhwm,omitempty"`
	LingerMillis          *int32 `json:"lingerMillis,omitempty"`
	ConnectTimeoutMillis  *int32 `json:"connectTimeoutMillis,omitempty"`
	ReconnectIvlMillis    *int32 `json:"reconnectIntervalMillis,omitempty"`
	ReconnectIvlMaxMillis *int32 `json:"reconnectIntervalMaxMillis,omitempty"`
	MaxMsgSize            *int64 `json:"maxMsgSize,omitempty"`
	HeartbeatIntervalMs   *int32 `json:"heartbeatIntervalMillis,omitempty"`
	HeartbeatTimeoutMs    *int32 `json:"heartbeatTimeoutMillis,omitempty"`
	HeartbeatTTLMs        *int32 `json:"heartbeatTTLMillis,omitempty"`
	TCPKeepalive          *bool  `json:"tcpKeepalive,omitempty"`
	TCPKeepaliveIdleSec   *int32 `json:"tcpKeepaliveIdleSeconds,omitempty"`
	TCPKeepaliveIntvlSec  *int32 `json:"tcpKeepaliveIntervalSeconds,omitempty"`
	TCPKeepaliveCount     *int32 `json:"tcpKeepaliveCount,omitempty"`
}

// Env is one environment variable.
type Env struct{ Name, Value string }

// EnvPrefix returns the prefix of a socket's environment variables:
// "ZMQ_" + the socket name upper-cased with '-' turned into '_'.
func EnvPrefix(socket string) string {
	return "ZMQ_" + strings.ToUpper(strings.ReplaceAll(socket, "-", "_")) + "_"
}

// Env returns the environment variables that describe the component: ZMQ_
// TOPOLOGY, ZMQ_COMPONENT, ZMQ_CONFIG, ZMQ_SOCKETS and, per socket,
// ZMQ_<SOCKET>_TYPE, _ENDPOINTS (comma-separated), _BIND ("true"/"false")
// and one variable per set option, named after the libzmq option, then the
// security variables (see Security.env) when a mechanism is set.
func (c *Config) Env() []Env {
	names := make([]string, len(c.Sockets))
	for i, s := range c.Sockets {
		names[i] = s.Name
	}
	env := []Env{
		{"ZMQ_TOPOLOGY", c.Topology},
		{"ZMQ_COMPONENT", c.Component},
		{"ZMQ_CONFIG", Path},
		{"ZMQ_SOCKETS", strings.Join(names, ",")},
	}
	for _, s := range c.Sockets {
		p := EnvPrefix(s.Name)
		env = append(env,
			Env{p + "TYPE", s.Type},
			Env{p + "ENDPOINTS", strings.Join(s.Endpoints, ",")},
			Env{p + "BIND", strconv.FormatBool(s.Bind)},
		)
		env = append(env, s.Options.env(p)...)
		env = append(env, s.Security.env(p)...)
	}
	return env
}

func (o Options) env(prefix string) []Env {
	var env []Env
	add := func(name string, v *int32) {
		if v != nil {
			env = append(env, Env{prefix + name, strconv.Itoa(int(*v))})
		}
	}
	add("SNDHWM", o.SndHWM)
	add("RCVHWM", o.RcvHWM)
	add("LINGER", o.LingerMillis)
	add("CONNECT_TIMEOUT", o.ConnectTimeoutMillis)
	add("RECONNECT_IVL", o.ReconnectIvlMillis)
	add("RECONNECT_IVL_MAX", o.ReconnectIvlMaxMillis)
	if o.MaxMsgSize != nil {
		env = append(env, Env{prefix + "MAXMSGSIZE", strconv.FormatInt(*o.MaxMsgSize, 10)})
	}
	add("HEARTBEAT_IVL", o.HeartbeatIntervalMs)
	add("HEARTBEAT_TIMEOUT", o.HeartbeatTimeoutMs)
	add("HEARTBEAT_TTL", o.HeartbeatTTLMs)
	if o.TCPKeepalive != nil {
		v := "0"
		if *o.TCPKeepalive {
			v = "1"
		}
		env = append(env, Env{prefix + "TCP_KEEPALIVE", v})
	}
	add("TCP_KEEPALIVE_IDLE", o.TCPKeepaliveIdleSec)
	add("TCP_KEEPALIVE_INTVL", o.TCPKeepaliveIntvlSec)
	add("TCP_KEEPALIVE_CNT", o.TCPKeepaliveCount)
	return env
}

// Socket returns the socket with the given name, or nil.
func (c *Config) Socket(name string) *Socket {
	for i := range c.Sockets {
		if c.Sockets[i].Name == name {
			return &c.Sockets[i]
		}
	}
	return nil
}

// Marshal encodes c as indented JSON, the format of the mounted file.
func (c *Config) Marshal() ([]byte, error) {
	return json.MarshalIndent(c, "", "  ")
}

// Parse decodes a Config, rejecting unknown fields so that a mismatch
// between operator and reader versions is loud.
func Parse(data []byte) (*Config, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parsing zmq topology config: %w", err)
	}
	if c.Version < 0 || c.Version > FormatVersion {
		return nil, fmt.Errorf("parsing zmq topology config: format version %d, this reader knows versions up to %d", c.Version, FormatVersion)
	}
	return &c, nil
}

// Load reads and parses the Config at path (usually Path).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading zmq topology config: %w", err)
	}
	return Parse(data)
}
