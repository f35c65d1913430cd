package main

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
	"github.com/zmq-operator/zmq-operator/pkg/sockdiag"
)

// This file serves GET /status (agentstatus.Path): the agent's probe state
// and the kernel's socket statistics as one agentstatus.Document, read by
// the operator's link poller and by kubectl-zmq.

// podName is the pod's name for the document: the POD_NAME environment
// variable (the downward API, set by the operator's rendering), else the
// hostname, which Kubernetes sets to the pod's name.
func podName() string {
	if n := os.Getenv("POD_NAME"); n != "" {
		return n
	}
	n, _ := os.Hostname()
	return n
}

// serveStatus writes the status document as JSON.
func (a *agent) serveStatus(w http.ResponseWriter, _ *http.Request) {
	doc := a.statusDocument(time.Now())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		a.log.Debug("writing /status", "err", err)
	}
}

// statusDocument assembles the document: probe results as last recorded,
// socket statistics read from the kernel now. When sock_diag fails, the
// statistics are left at zero and the failure counts in
// zmq_sidecar_sockdiag_errors_total, as for a scrape.
func (a *agent) statusDocument(now time.Time) agentstatus.Document {
	// The configuration changes under a.mu when the mounted file does
	// (live endpoints): read it, and the probe state, under the lock.
	a.mu.Lock()
	cfg := a.cfg
	doc := agentstatus.Document{
		APIVersion: agentstatus.APIVersion,
		Topology:   cfg.Topology,
		Namespace:  cfg.Namespace,
		Component:  cfg.Component,
		Pod:        a.pod,
		Time:       now.UTC(),
		Sockets:    make([]agentstatus.Socket, 0, len(cfg.Sockets)),
	}
	names := make([]string, 0, len(cfg.Sockets))
	match := make(map[string]sockdiag.Matcher, len(cfg.Sockets))
	// peerRemotes holds each peer's resolved addresses, in document order,
	// for counting its connections below.
	var peerRemotes [][]map[netip.AddrPort]bool

	for _, s := range cfg.Sockets {
		out := agentstatus.Socket{Name: s.Name, Type: s.Type, Bind: s.Bind}
		names = append(names, s.Name)
		var remotesOfPeers []map[netip.AddrPort]bool
		if s.Bind {
			out.Port = s.Port
			if st := a.bound[s.Name]; st != nil {
				p := st.probe()
				out.Listener = &p
			}
			match[s.Name] = sockdiag.Bound(uint16(s.Port))
		} else {
			all := map[netip.AddrPort]bool{}
			for _, ep := range s.Endpoints {
				key := peerKey{s.Name, ep}
				peer := agentstatus.Peer{Endpoint: ep}
				if st := a.peers[key]; st != nil {
					peer.Probe = st.probe()
				}
				mine := map[netip.AddrPort]bool{}
				for _, r := range a.remotes[key] {
					peer.Addresses = append(peer.Addresses, r.String())
					mine[r], all[r] = true, true
				}
				remotesOfPeers = append(remotesOfPeers, mine)
				out.Peers = append(out.Peers, peer)
			}
			match[s.Name] = sockdiag.Connected(all)
		}
		peerRemotes = append(peerRemotes, remotesOfPeers)
		doc.Sockets = append(doc.Sockets, out)
	}
	a.mu.Unlock()

	conns, err := sockdiag.Dump()
	if err != nil {
		a.diagErrors.Add(1)
		a.log.Warn("reading socket statistics", "err", err)
		return doc
	}
	stats := a.tracker.Update(conns, names, match)
	for i := range doc.Sockets {
		s := &doc.Sockets[i]
		st := stats[s.Name]
		s.Connections = st.Connections
		s.BytesSent, s.BytesReceived = st.BytesSent, st.BytesReceived
		s.SendQueueBytes, s.ReceiveQueueBytes = st.SendQueue, st.RecvQueue
		for j := range s.Peers {
			s.Peers[j].Connections = countConnected(conns, peerRemotes[i][j])
		}
	}
	return doc
}

// countConnected counts the established connections to any of remotes.
func countConnected(conns []sockdiag.Conn, remotes map[netip.AddrPort]bool) int {
	if len(remotes) == 0 {
		return 0
	}
	n := 0
	match := sockdiag.Connected(remotes)
	for _, c := range conns {
		if match(c) {
			n++
		}
	}
	return n
}

// probe converts the last probe's state into the document's form. The
// caller holds the agent's lock.
func (st *probeState) probe() agentstatus.Probe {
	p := agentstatus.Probe{
		Probed:    st.probed,
		Up:        st.up,
		LastError: st.err,
		LastProbe: st.at.UTC(),
		Successes: st.ok,
		Failures:  st.fail,
	}
	if st.up {
		r := st.result
		p.HandshakeMicros = r.Latency.Microseconds()
		p.PingRTTMicros = r.PingRTT.Microseconds()
		p.ZMTPVersion = r.Version.String()
		p.PeerSocketType = r.SocketType.String()
	}
	return p
}
