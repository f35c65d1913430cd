package main

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// peerLoops are the running probe loops of peer endpoints, so that they
// can follow the configuration (endpointUpdates: Live).
type peerLoops struct {
	ctx  context.Context
	wg   *sync.WaitGroup
	stop map[peerKey]context.CancelFunc // guarded by agent.mu
}

// followConfig makes the agent follow the mounted configuration at path:
// when its endpoints change, the probed peers change with them. It returns
// the collector of the follower's counters.
func (a *agent) followConfig(ctx context.Context, path string, interval time.Duration) prometheus.Collector {
	f := startFollower(ctx, path, a.cfg, interval, a.log, nil)
	f.OnChange(a.followPeers)
	return newFollowCollector("zmq_sidecar", f)
}

// followPeers makes cfg the agent's configuration and its connecting
// sockets' endpoints the probed peers: a probe loop starts for each new
// endpoint, and the loop, state and metrics of each endpoint no longer
// listed go away. Before run has started, it only records cfg.
func (a *agent) followPeers(cfg *zmqconfig.Config) {
	type peer struct {
		s  zmqconfig.Socket
		ep string
	}
	want := map[peerKey]peer{}
	for _, s := range cfg.Sockets {
		if !s.Bind {
			for _, ep := range s.Endpoints {
				want[peerKey{s.Name, ep}] = peer{s, ep}
			}
		}
	}
	a.mu.Lock()
	a.cfg = cfg
	for k := range a.peers {
		if _, ok := want[k]; !ok {
			delete(a.peers, k)
			delete(a.remotes, k)
		}
	}
	for k := range want {
		if a.peers[k] == nil {
			a.peers[k] = &probeState{}
		}
	}
	l := a.loops
	if l == nil {
		a.mu.Unlock()
		return
	}
	for k, stop := range l.stop {
		if _, ok := want[k]; !ok {
			stop()
			delete(l.stop, k)
		}
	}
	var start []peer
	var ctxs []context.Context
	for k, p := range want {
		if l.stop[k] == nil {
			ctx, cancel := context.WithCancel(l.ctx)
			l.stop[k] = cancel
			start, ctxs = append(start, p), append(ctxs, ctx)
		}
	}
	a.mu.Unlock()
	for i, p := range start {
		ctx := ctxs[i]
		l.wg.Add(1)
		// Peers are probed with jitter, so that the pods of a component
		// do not probe a peer in lockstep.
		go func() {
			defer l.wg.Done()
			a.loop(ctx, a.interval/10, func() { a.probePeer(ctx, p.s, p.ep) })
		}()
	}
}
