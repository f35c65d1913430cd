package main

import (
	"net/netip"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zmq-operator/zmq-operator/pkg/sockdiag"
)

// The agent's metrics. Labels are bounded by the component's configuration:
// socket names, and the endpoints of connecting sockets (one per replica of
// the peer at most).
var (
	descBoundUp = prometheus.NewDesc("zmq_sidecar_bound_socket_up",
		"Whether the last ZMTP probe of a socket the component binds succeeded with the expected Socket-Type (1) or not (0).",
		[]string{"socket", "type"}, nil)
	descPeerUp = prometheus.NewDesc("zmq_sidecar_peer_up",
		"Whether the last ZMTP probe of a peer of a connecting socket succeeded (1) or not (0).",
		[]string{"socket", "endpoint"}, nil)
	descPeerLatency = prometheus.NewDesc("zmq_sidecar_peer_handshake_seconds",
		"Time from connect to the peer's READY in the last successful probe.",
		[]string{"socket", "endpoint"}, nil)
	descPeerPing = prometheus.NewDesc("zmq_sidecar_peer_ping_rtt_seconds",
		"PING/PONG round trip in the last probe (ZMTP 3.1 peers of a type that allows a silent handshake).",
		[]string{"socket", "endpoint"}, nil)
	descPeerInfo = prometheus.NewDesc("zmq_sidecar_peer_info",
		"The peer's Socket-Type and ZMTP version from the last successful probe (always 1).",
		[]string{"socket", "endpoint", "peer_type", "zmtp_version"}, nil)
	descProbes = prometheus.NewDesc("zmq_sidecar_probes_total",
		"Probes made, by socket and result.",
		[]string{"socket", "result"}, nil)
	descConns = prometheus.NewDesc("zmq_sidecar_socket_connections",
		"Open TCP connections of a socket (from sock_diag).", []string{"socket"}, nil)
	descSent = prometheus.NewDesc("zmq_sidecar_socket_sent_bytes_total",
		"Bytes sent and acknowledged over a socket's TCP connections.", []string{"socket"}, nil)
	descReceived = prometheus.NewDesc("zmq_sidecar_socket_received_bytes_total",
		"Bytes received over a socket's TCP connections.", []string{"socket"}, nil)
	descSendQ = prometheus.NewDesc("zmq_sidecar_socket_send_queue_bytes",
		"Bytes in the kernel's send queues of a socket's connections, not yet acknowledged: backpressure from the peers.", []string{"socket"}, nil)
	descRecvQ = prometheus.NewDesc("zmq_sidecar_socket_receive_queue_bytes",
		"Bytes in the kernel's receive queues of a socket's connections, not yet read by the application.", []string{"socket"}, nil)
	descRTT = prometheus.NewDesc("zmq_sidecar_socket_rtt_seconds",
		"Mean smoothed TCP round-trip time of a socket's connections.", []string{"socket"}, nil)
	descRetrans = prometheus.NewDesc("zmq_sidecar_socket_retransmits_total",
		"TCP segments retransmitted on a socket's connections.", []string{"socket"}, nil)
	descDiagErrors = prometheus.NewDesc("zmq_sidecar_sockdiag_errors_total",
		"Failed reads of socket statistics from the kernel.", nil, nil)
)

// buildInfo is zmq_sidecar_build_info.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "zmq_sidecar_build_info",
		Help:        "The zmq-sidecar build (always 1).",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Describe implements prometheus.Collector.
func (a *agent) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBoundUp, descPeerUp, descPeerLatency, descPeerPing, descPeerInfo, descProbes,
		descConns, descSent, descReceived, descSendQ, descRecvQ, descRTT, descRetrans, descDiagErrors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: probe results as last recorded,
// socket statistics read from the kernel now.
func (a *agent) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}

	a.mu.Lock()
	probes := map[string][2]uint64{}
	for _, s := range a.cfg.Sockets {
		if st := a.bound[s.Name]; st != nil {
			gauge(descBoundUp, b2f(st.up), s.Name, s.Type)
			probes[s.Name] = [2]uint64{st.ok, st.fail}
			continue
		}
		for _, ep := range s.Endpoints {
			st := a.peers[peerKey{s.Name, ep}]
			gauge(descPeerUp, b2f(st.up), s.Name, ep)
			if st.up {
				gauge(descPeerLatency, st.result.Latency.Seconds(), s.Name, ep)
				gauge(descPeerInfo, 1, s.Name, ep, st.result.SocketType.String(), st.result.Version.String())
				if st.result.PingRTT > 0 {
					gauge(descPeerPing, st.result.PingRTT.Seconds(), s.Name, ep)
				}
			}
			p := probes[s.Name]
			probes[s.Name] = [2]uint64{p[0] + st.ok, p[1] + st.fail}
		}
	}
	names := make([]string, 0, len(a.cfg.Sockets))
	match := make(map[string]sockdiag.Matcher, len(a.cfg.Sockets))
	for _, s := range a.cfg.Sockets {
		names = append(names, s.Name)
		if s.Bind {
			match[s.Name] = sockdiag.Bound(uint16(s.Port))
		} else {
			remotes := map[netip.AddrPort]bool{}
			for _, ep := range s.Endpoints {
				for _, r := range a.remotes[peerKey{s.Name, ep}] {
					remotes[r] = true
				}
			}
			match[s.Name] = sockdiag.Connected(remotes)
		}
	}
	a.mu.Unlock()

	for name, p := range probes {
		counter(descProbes, float64(p[0]), name, "ok")
		counter(descProbes, float64(p[1]), name, "error")
	}
	conns, err := sockdiag.Dump()
	if err != nil {
		a.diagErrors.Add(1)
		a.log.Warn("reading socket statistics", "err", err)
	} else {
		for name, st := range a.tracker.Update(conns, names, match) {
			gauge(descConns, float64(st.Connections), name)
			counter(descSent, float64(st.BytesSent), name)
			counter(descReceived, float64(st.BytesReceived), name)
			gauge(descSendQ, float64(st.SendQueue), name)
			gauge(descRecvQ, float64(st.RecvQueue), name)
			gauge(descRTT, st.MeanRTT.Seconds(), name)
			counter(descRetrans, float64(st.Retransmits), name)
		}
	}
	counter(descDiagErrors, float64(a.diagErrors.Load()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
