package controllers

import (
	"fmt"
	"slices"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// This file rolls the sidecars' reports (controllers/linkpoll) up into
// status.links. It is pure: the report is the poller's latest, read by the
// observeLinks phase.

// linkHealth is what the connecting pods' sidecars say about one link.
type linkHealth struct {
	// known is false while no pod of the connecting component has been
	// seen running by the poller: the link then keeps its component-only
	// meaning.
	known bool
	// expected and up count connections: the connecting component's ready
	// replicas times the endpoints each connects to, and how many of those
	// the ready pods' sidecars found up. pending counts those not known
	// yet: of ready pods the poller has not seen or that have not answered
	// yet (starting), and endpoints a sidecar has not probed yet.
	expected, up, pending int32
	// broken counts connections observed down: a failed probe, a stale
	// sidecar, an endpoint missing from a pod's configuration.
	broken int
	// p50 and max are the up connections' round trips in microseconds,
	// each on the 1-2-5 bucket series.
	p50, max int64
	// reason names the first broken pod pair, such as
	// "pipe-worker-7c9f-x2 -> pipe-ventilator-0: connection refused".
	reason string
}

// down reports connections observed down. Connections not known yet (a
// starting pod, an endpoint not probed yet) do not make a link down: a
// rollout would otherwise flap the topology to Degraded for the moment
// between a pod's readiness and its sidecar's first answer.
func (h linkHealth) down() bool { return h.known && h.broken > 0 }

// rollUpLink computes the health of the link from the connecting socket s
// of component c, whose workload has readyReplicas ready, to endpoints
// (what each replica connects to). Only ready pods count: a pod that is
// not ready is the component's problem, reported as such. A ready pod
// whose sidecar has not answered recently (stale) counts with all its
// connections down; one that is starting (pending: not seen by the poller
// yet, or not answered yet) and an endpoint not probed yet count as not
// known yet: neither up nor down.
func rollUpLink(c *zmqv1.Component, s *zmqv1.Socket, readyReplicas int32, endpoints []string, report *linkpoll.TopologyReport) linkHealth {
	if report == nil {
		return linkHealth{}
	}
	var h linkHealth
	var broken []string
	var rtts []int64
	var polled int32
	for _, name := range report.PodNames() {
		pod := report.Pods[name]
		if pod.Component != c.Name {
			continue
		}
		h.known = true
		if !pod.Ready {
			continue
		}
		polled++
		if pod.Pending {
			h.pending += int32(len(endpoints))
			continue
		}
		if pod.Stale {
			broken = append(broken, fmt.Sprintf("%s: %s", pod.Pod, pod.Error))
			continue
		}
		peers := pod.Sockets[s.Name]
		for _, ep := range endpoints {
			i := slices.IndexFunc(peers, func(p linkpoll.PeerReport) bool { return p.Endpoint == ep })
			switch {
			case i < 0:
				broken = append(broken, fmt.Sprintf("%s -> %s: endpoint not in the pod's configuration yet", pod.Pod, linkpoll.PeerHost(ep)))
			case peers[i].Pending:
				h.pending++
			case peers[i].Up:
				h.up++
				rtts = append(rtts, peers[i].RTTMicros)
			default:
				broken = append(broken, fmt.Sprintf("%s -> %s: %s", pod.Pod, linkpoll.PeerHost(ep), peers[i].Error))
			}
		}
	}
	if !h.known {
		return linkHealth{}
	}
	h.expected = readyReplicas * int32(len(endpoints))
	h.up = min(h.up, h.expected)
	if unseen := readyReplicas - polled; unseen > 0 {
		// Ready in the workload's status, not running in the poller's
		// view yet.
		h.pending += unseen * int32(len(endpoints))
	}
	h.broken = len(broken)
	if len(rtts) > 0 {
		slices.Sort(rtts)
		// Nearest-rank median: on bucket boundaries already, so the
		// bucketing commutes with it.
		h.p50 = linkpoll.Bucket(rtts[(len(rtts)-1)/2])
		h.max = linkpoll.Bucket(rtts[len(rtts)-1])
	}
	switch {
	case len(broken) == 1:
		h.reason = broken[0]
	case len(broken) > 1:
		h.reason = fmt.Sprintf("%s (and %d more)", broken[0], len(broken)-1)
	}
	return h
}

// connectEndpoints are the endpoints each replica of component c connects
// to from socket s: one per replica of a StatefulSet target, or its
// Service's one.
func connectEndpoints(t *zmqv1.ZMQTopology, c *zmqv1.Component, s *zmqv1.Socket, clusterDomain string) []string {
	if sock := render.Resolve(t, c, clusterDomain).Socket(s.Name); sock != nil {
		return sock.Endpoints
	}
	return nil
}

// withHealth sets a link's connection counts, round trips and readiness
// from its health; endsReady is whether both of its components are ready.
func withHealth(l zmqv1.LinkStatus, h linkHealth, endsReady bool) zmqv1.LinkStatus {
	if !h.known {
		return l
	}
	l.ExpectedConnections, l.ConnectionsUp = h.expected, h.up
	l.RTTP50Micros, l.RTTMaxMicros = h.p50, h.max
	if endsReady && h.down() {
		l.Ready, l.Reason = false, h.reason
	}
	return l
}
