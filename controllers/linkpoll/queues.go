package linkpoll

import (
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
)

// This file keeps the kernel queue sizes each sidecar reports, for the
// backlog autoscaler (controllers/autoscale). They change at every poll, so
// they are kept beside the TopologyReport, never in it: a change of queue
// sizes sends no event and causes no reconcile.

// SocketQueues is one socket's kernel queues in one pod, as the pod's agent
// last reported them (agentstatus.Socket).
type SocketQueues struct {
	// Name and Type of the socket; Bind is true for a bound socket.
	Name string
	Type string
	Bind bool
	// Connections is the number of the socket's TCP connections.
	Connections int
	// SendQueueBytes and ReceiveQueueBytes: bytes in the kernel's send
	// queues (not yet acknowledged by the peers) and receive queues (not
	// yet read by the application) of those connections.
	SendQueueBytes    uint64
	ReceiveQueueBytes uint64
}

// PodQueues is one pod's sockets' queues.
type PodQueues struct {
	// Pod and Component name the pod and its component.
	Pod       string
	Component string
	// Fresh is true when the pod answered within the stale period; the
	// sockets of a pod that did not are those of its last answer, or none.
	Fresh bool
	// Polled is when the pod last answered.
	Polled time.Time
	// Sockets in the order of the pod's configuration.
	Sockets []SocketQueues
}

// queuesOf extracts the queue sizes from a document.
func queuesOf(doc *agentstatus.Document) []SocketQueues {
	out := make([]SocketQueues, 0, len(doc.Sockets))
	for _, s := range doc.Sockets {
		out = append(out, SocketQueues{
			Name: s.Name, Type: s.Type, Bind: s.Bind, Connections: s.Connections,
			SendQueueBytes: s.SendQueueBytes, ReceiveQueueBytes: s.ReceiveQueueBytes,
		})
	}
	return out
}

// Queues returns the latest queue sizes of every running pod of a
// topology, in pod name order (nil when none runs). The result is a copy
// the caller may keep.
func (p *Poller) Queues(topology types.NamespacedName) []PodQueues {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []PodQueues
	for _, st := range p.states {
		if st.topology != topology {
			continue
		}
		out = append(out, PodQueues{
			Pod: st.key.Name, Component: st.component,
			Fresh:   p.health(st, now) == podFresh,
			Polled:  st.lastOK,
			Sockets: append([]SocketQueues(nil), st.queues...),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
	return out
}
