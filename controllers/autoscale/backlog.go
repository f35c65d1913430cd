package autoscale

import (
	"time"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
)

// What counts as a component's backlog
//
// A connector-only worker pool takes its work through sockets that
// load-balance: a PULL fed by a PUSH, a REP or DEALER fed by a ROUTER or
// DEALER. Work that is waiting for the pool sits, in order along the
// path, in
//
//  1. the upstream binder's ZeroMQ send queue (user space, up to SNDHWM
//     messages per connection),
//  2. the binder's kernel send queues of its connections to the workers
//     (sent, not yet acknowledged: the workers' windows are full),
//  3. the workers' kernel receive queues (acknowledged, not yet read by
//     the application),
//  4. the workers' ZeroMQ receive queues (user space, up to RCVHWM).
//
// The sidecar reads 2 and 3 from sock_diag (agentstatus.Socket
// SendQueueBytes and ReceiveQueueBytes); 1 and 4 live inside the
// application's process and no other process can see them. The backlog is
// therefore the sum of
//
//   - ReceiveQueueBytes of every fresh pod of the component, over its
//     connecting sockets of a load-balanced input type
//     (zmqv1.BacklogInputTypes: PULL, REP, DEALER), and
//   - SendQueueBytes of the bound socket each of those sockets connects to
//     (spec connect.component/connect.socket), over that binder's fresh
//     pods, when the component is the only one that connects to it: the
//     kernel reports one sum per socket, and with other components on the
//     same socket their share of it is unknown, so it is left out.
//
// It is a fair signal for PUSH/PULL: a pool that keeps up reads as fast as
// the binder writes, so both kernel queues stay near empty (a few
// kilobytes in flight); a pool that falls behind fills the user-space
// queues first and then the kernel's, whose size then grows with the
// shortfall until TCP flow control stops the binder. Per replica it falls
// as replicas are added, because PUSH round-robins across connections.
// Its limits: bytes, not messages (a target is a size, so tasks of very
// different sizes weigh differently); nothing shows until the user-space
// queues (1 and 4) are full, which delays the first scale-up by the time
// the shortfall takes to fill them (HWM x message size); and its ceiling
// is the sockets' buffer sizes (net.ipv4.tcp_rmem/wmem, SO_SNDBUF/RCVBUF),
// so a target near that ceiling can never be exceeded. SUB is not counted:
// every subscriber gets every message, so replicas never share the
// backlog.

// Measurement is one component's backlog at one time.
type Measurement struct {
	// Time the measurement was taken.
	Time time.Time
	// Workers is the bytes in the component's pods' receive queues.
	Workers uint64
	// Upstream is the bytes in the upstream binders' send queues.
	Upstream uint64
	// Pods is how many of the component's pods answered recently.
	Pods int
	// Complete is false when a pod of the component or of a counted
	// binder has not answered recently, or no pod counted at all.
	Complete bool
}

// Backlog is Workers + Upstream.
func (m Measurement) Backlog() uint64 { return m.Workers + m.Upstream }

// Sample is the recommender's input.
func (m Measurement) Sample() Sample {
	return Sample{Time: m.Time, Backlog: float64(m.Backlog()), Complete: m.Complete}
}

// Measure computes the backlog of the named component of t from the link
// poller's queue snapshot of t's pods (linkpoll.Poller.Queues).
func Measure(t *zmqv1.ZMQTopology, component string, pods []linkpoll.PodQueues, now time.Time) Measurement {
	m := Measurement{Time: now, Complete: true}
	var comp *zmqv1.Component
	for i := range t.Spec.Components {
		if t.Spec.Components[i].Name == component {
			comp = &t.Spec.Components[i]
		}
	}
	if comp == nil {
		m.Complete = false
		return m
	}
	inputs := map[string]bool{}              // the component's input sockets
	upstream := map[string]map[string]bool{} // binder component -> bound sockets
	for _, s := range comp.Sockets {
		if s.Connect == nil || !zmqv1.IsBacklogInput(s.Type) {
			continue
		}
		inputs[s.Name] = true
		if b := s.Connect.Component; b != "" && soleConnector(t, component, b, s.Connect.Socket) {
			if upstream[b] == nil {
				upstream[b] = map[string]bool{}
			}
			upstream[b][s.Connect.Socket] = true
		}
	}
	counted := 0
	for _, p := range pods {
		bound := upstream[p.Component]
		if p.Component != component && bound == nil {
			continue
		}
		counted++
		if !p.Fresh {
			m.Complete = false
			continue
		}
		if p.Component == component {
			m.Pods++
		}
		for _, s := range p.Sockets {
			switch {
			case p.Component == component && !s.Bind && inputs[s.Name]:
				m.Workers += s.ReceiveQueueBytes
			case p.Component != component && s.Bind && bound[s.Name]:
				m.Upstream += s.SendQueueBytes
			}
		}
	}
	if counted == 0 {
		m.Complete = false
	}
	return m
}

// soleConnector reports whether component is the only one whose sockets
// connect to binder's socket.
func soleConnector(t *zmqv1.ZMQTopology, component, binder, socket string) bool {
	for _, c := range t.Spec.Components {
		if c.Name == component {
			continue
		}
		for _, s := range c.Sockets {
			if s.Connect != nil && s.Connect.Component == binder && s.Connect.Socket == socket {
				return false
			}
		}
	}
	return true
}
