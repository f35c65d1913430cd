package render

import (
	"fmt"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// This file owns how ZeroMQ endpoints are chosen.
//
// ZeroMQ balances per connection: through a ClusterIP Service a connecting
// socket gets one TCP connection to one replica, so a PULL connected to a
// 3-replica PUSH would hear only one of them, a SUB would miss what the
// other replicas publish, and a PUB would reach one replica of a
// subscribing component while the others hear nothing. So when a component
// binds a socket and has more than one replica it runs as a StatefulSet
// behind a headless Service, and connectors get one endpoint per replica
// (stable per-pod DNS names) and connect to all of them; ZeroMQ then
// fair-queues, round-robins or fans out across every replica.
//
// The exception is a fan-out sender (PUB or XPUB) connecting to a device,
// that is a Forwarder's XSUB frontend: the device's replicas are
// interchangeable relays whose subscribers connect to every one of them, so
// a message sent to each replica would come out once per replica. Those
// senders connect through the ClusterIP Service, which every binder has,
// and reach exactly one replica. A single-replica binder is always reached
// through its ClusterIP Service, whose address survives pod restarts.
//
// Whether the pair makes sense at all with several replicas (a PAIR has
// exactly one peer) is Validate's business, in api/v1alpha1.

// PerReplica reports whether c runs as a StatefulSet behind a headless
// Service, giving each replica of its bound sockets its own DNS name. A
// component scaled by an external autoscaler always runs as a Deployment:
// its kind must not follow a replica count the operator does not set (and
// Validate lets nothing connect to it).
func PerReplica(c *zmqv1.Component) bool {
	return Replicas(c) > 1 && bindsAny(c) && !c.ExternalReplicas()
}

// ConnectsToEachReplica reports whether a socket of the connecting type
// reaches the replicas of a per-replica target component each through its
// own endpoint (true), or any one of them through the ClusterIP Service
// (false): the latter only for a fan-out sender connecting to a device.
func ConnectsToEachReplica(connecting zmqv1.SocketType, target *zmqv1.Component) bool {
	fanOut := connecting == zmqv1.PUB || connecting == zmqv1.XPUB
	return !fanOut || target.Device == nil
}

// BoundEndpoints returns the endpoints a socket of the connecting type uses
// to reach the bound socket s of component c.
func BoundEndpoints(t *zmqv1.ZMQTopology, c *zmqv1.Component, s *zmqv1.Socket, connecting zmqv1.SocketType, clusterDomain string) []string {
	if !PerReplica(c) || !ConnectsToEachReplica(connecting, c) {
		return []string{ServiceEndpoint(t, c, s, clusterDomain)}
	}
	return ReplicaEndpoints(t, c, s, clusterDomain)
}

// Addresses are where bound socket s of c can be reached: one endpoint per
// replica for a per-replica component, else its ClusterIP Service's.
// Status reports them.
func Addresses(t *zmqv1.ZMQTopology, c *zmqv1.Component, s *zmqv1.Socket, clusterDomain string) []string {
	if PerReplica(c) {
		return ReplicaEndpoints(t, c, s, clusterDomain)
	}
	return []string{ServiceEndpoint(t, c, s, clusterDomain)}
}

// ServiceEndpoint is the endpoint of bound socket s through c's ClusterIP
// Service.
func ServiceEndpoint(t *zmqv1.ZMQTopology, c *zmqv1.Component, s *zmqv1.Socket, clusterDomain string) string {
	return tcpEndpoint(fmt.Sprintf("%s.%s.svc.%s", ObjectName(t, c), t.Namespace, clusterDomain), s.Bind.Port)
}

// ReplicaEndpoints are the endpoints of bound socket s on each replica of a
// per-replica component, through the headless Service's per-pod DNS names.
func ReplicaEndpoints(t *zmqv1.ZMQTopology, c *zmqv1.Component, s *zmqv1.Socket, clusterDomain string) []string {
	n := Replicas(c)
	eps := make([]string, 0, n)
	for i := int32(0); i < n; i++ {
		host := fmt.Sprintf("%s-%d.%s.%s.svc.%s", ObjectName(t, c), i, HeadlessServiceName(t, c), t.Namespace, clusterDomain)
		eps = append(eps, tcpEndpoint(host, s.Bind.Port))
	}
	return eps
}

// BindEndpoint is the endpoint a bound socket binds: every interface of the
// pod.
func BindEndpoint(port int32) string { return fmt.Sprintf("tcp://*:%d", port) }

func tcpEndpoint(host string, port int32) string { return fmt.Sprintf("tcp://%s:%d", host, port) }

// Resolve returns the resolved socket configuration of component c of a
// valid topology: bind endpoints, the endpoints of connect targets and the
// merged socket options.
func Resolve(t *zmqv1.ZMQTopology, c *zmqv1.Component, clusterDomain string) *zmqconfig.Config {
	cfg := &zmqconfig.Config{
		Version:   zmqconfig.FormatVersion,
		Topology:  t.Name,
		Namespace: t.Namespace,
		Component: c.Name,
		Sockets:   make([]zmqconfig.Socket, 0, len(c.Sockets)),
	}
	if c.Device != nil {
		cfg.Device = string(c.Device.Type)
	}
	for i := range c.Sockets {
		s := &c.Sockets[i]
		rs := zmqconfig.Socket{
			Name:    s.Name,
			Type:    string(s.Type),
			Options: mergeOptions(t.Spec.SocketDefaults, s.Options),
		}
		switch {
		case s.Bind != nil:
			rs.Bind = true
			rs.Port = s.Bind.Port
			rs.Endpoints = []string{BindEndpoint(s.Bind.Port)}
		case s.Connect != nil && s.Connect.Address != "":
			rs.Endpoints = []string{s.Connect.Address}
		case s.Connect != nil:
			target := t.Component(s.Connect.Component)
			bound := target.Socket(s.Connect.Socket)
			rs.Endpoints = BoundEndpoints(t, target, bound, s.Type, clusterDomain)
			rs.Peer = &zmqconfig.Peer{Component: target.Name, Socket: bound.Name, Type: string(bound.Type)}
		}
		cfg.Sockets = append(cfg.Sockets, rs)
	}
	return cfg
}

// mergeOptions overlays a socket's option overrides on the topology's
// defaults, field by field.
func mergeOptions(defaults, overrides *zmqv1.SocketOptions) zmqconfig.Options {
	var o zmqconfig.Options
	for _, src := range []*zmqv1.SocketOptions{defaults, overrides} {
		if src == nil {
			continue
		}
		pick(&o.SndHWM, src.SndHWM)
		pick(&o.RcvHWM, src.RcvHWM)
		pick(&o.LingerMillis, src.LingerMillis)
		pick(&o.ConnectTimeoutMillis, src.ConnectTimeoutMillis)
		pick(&o.ReconnectIvlMillis, src.ReconnectIntervalMillis)
		pick(&o.ReconnectIvlMaxMillis, src.ReconnectIntervalMaxMillis)
		pick(&o.MaxMsgSize, src.MaxMsgSize)
		if hb := src.Heartbeat; hb != nil {
			pick(&o.HeartbeatIntervalMs, hb.IntervalMillis)
			pick(&o.HeartbeatTimeoutMs, hb.TimeoutMillis)
			pick(&o.HeartbeatTTLMs, hb.TTLMillis)
		}
		if ka := src.TCPKeepalive; ka != nil {
			pick(&o.TCPKeepalive, ka.Enabled)
			pick(&o.TCPKeepaliveIdleSec, ka.IdleSeconds)
			pick(&o.TCPKeepaliveIntvlSec, ka.IntervalSeconds)
			pick(&o.TCPKeepaliveCount, ka.Count)
		}
	}
	return o
}

func pick[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}

// Replicas is the desired number of pods of c (1 when unset).
func Replicas(c *zmqv1.Component) int32 {
	if c.Replicas == nil {
		return 1
	}
	return *c.Replicas
}

func bindsAny(c *zmqv1.Component) bool {
	for _, s := range c.Sockets {
		if s.Bind != nil {
			return true
		}
	}
	return false
}
