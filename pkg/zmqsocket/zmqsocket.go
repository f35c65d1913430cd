// Package zmqsocket opens the pkg/zmtp socket that a resolved socket
// configuration (pkg/zmqconfig, the file the operator mounts in every pod)
// describes: its type, its options, and a bind or connect per endpoint. The
// devices and the example workloads open their sockets through it.
package zmqsocket

import (
	"fmt"
	"net"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// Open creates the socket s describes, with its security mechanism and
// the keys its key files hold (SecurityOptions), and binds or connects all
// its endpoints. Connects return at once and reconnect in the background, so a
// peer that is not up yet is not an error. extra options are applied after
// those from the configuration.
func Open(s zmqconfig.Socket, extra ...zmtp.Option) (*zmtp.Socket, error) {
	typ, err := zmtp.ParseSocketType(s.Type)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", s.Name, err)
	}
	sec, err := SecurityOptions(s.Security, "security")
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", s.Name, err)
	}
	opts := append(Options(s.Options), sec...)
	sock, err := zmtp.NewSocket(typ, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", s.Name, err)
	}
	for _, ep := range s.Endpoints {
		if s.Bind {
			_, err = sock.Bind(ep)
		} else {
			err = sock.Connect(ep)
		}
		if err != nil {
			sock.Close()
			return nil, fmt.Errorf("socket %s: %w", s.Name, err)
		}
	}
	return sock, nil
}

// Options translates configured socket options into zmtp options. Options
// that are not set keep zmtp's (libzmq-compatible) defaults.
func Options(o zmqconfig.Options) []zmtp.Option {
	var opts []zmtp.Option
	if o.SndHWM != nil {
		opts = append(opts, zmtp.WithSendHWM(int(*o.SndHWM)))
	}
	if o.RcvHWM != nil {
		opts = append(opts, zmtp.WithRecvHWM(int(*o.RcvHWM)))
	}
	if o.LingerMillis != nil {
		opts = append(opts, zmtp.WithLinger(millis(*o.LingerMillis)))
	}
	if o.ConnectTimeoutMillis != nil {
		opts = append(opts, zmtp.WithConnectTimeout(time.Duration(*o.ConnectTimeoutMillis)*time.Millisecond))
	}
	if o.ReconnectIvlMillis != nil || o.ReconnectIvlMaxMillis != nil {
		lo, hi := zmtp.DefaultReconnectInterval, zmtp.DefaultReconnectMax
		if o.ReconnectIvlMillis != nil {
			lo = time.Duration(*o.ReconnectIvlMillis) * time.Millisecond
		}
		if o.ReconnectIvlMaxMillis != nil {
			// libzmq: 0 means the interval never grows.
			hi = time.Duration(*o.ReconnectIvlMaxMillis) * time.Millisecond
		}
		opts = append(opts, zmtp.WithReconnectInterval(lo, hi))
	}
	if o.MaxMsgSize != nil {
		opts = append(opts, zmtp.WithMaxMsgSize(*o.MaxMsgSize))
	}
	if o.HeartbeatIntervalMs != nil || o.HeartbeatTimeoutMs != nil || o.HeartbeatTTLMs != nil {
		var hb zmtp.Heartbeat
		if o.HeartbeatIntervalMs != nil {
			hb.Interval = millis(*o.HeartbeatIntervalMs)
		}
		if o.HeartbeatTimeoutMs != nil {
			hb.Timeout = millis(*o.HeartbeatTimeoutMs)
		}
		if o.HeartbeatTTLMs != nil {
			hb.TTL = millis(*o.HeartbeatTTLMs)
		}
		opts = append(opts, zmtp.WithHeartbeat(hb))
	}
	if ka, ok := keepAlive(o); ok {
		opts = append(opts, zmtp.WithTCPKeepAlive(ka))
	}
	return opts
}

// keepAlive maps the ZMQ_TCP_KEEPALIVE* options: any of them set turns
// keepalive on unless tcpKeepalive is explicitly false; unset values keep
// the kernel's.
func keepAlive(o zmqconfig.Options) (net.KeepAliveConfig, bool) {
	if o.TCPKeepalive == nil && o.TCPKeepaliveIdleSec == nil && o.TCPKeepaliveIntvlSec == nil && o.TCPKeepaliveCount == nil {
		return net.KeepAliveConfig{}, false
	}
	ka := net.KeepAliveConfig{Enable: o.TCPKeepalive == nil || *o.TCPKeepalive}
	if o.TCPKeepaliveIdleSec != nil {
		ka.Idle = time.Duration(*o.TCPKeepaliveIdleSec) * time.Second
	}
	if o.TCPKeepaliveIntvlSec != nil {
		ka.Interval = time.Duration(*o.TCPKeepaliveIntvlSec) * time.Second
	}
	if o.TCPKeepaliveCount != nil {
		ka.Count = int(*o.TCPKeepaliveCount)
	}
	return ka, true
}

// millis converts ZeroMQ's milliseconds; -1 (linger forever) becomes a very
// long duration.
func millis(ms int32) time.Duration {
	if ms < 0 {
		return 1<<63 - 1
	}
	return time.Duration(ms) * time.Millisecond
}
