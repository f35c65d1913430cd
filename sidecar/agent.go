package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
	"github.com/zmq-operator/zmq-operator/pkg/sockdiag"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// runAgent runs the sidecar agent of one pod: readiness from ZMTP probes of
// the sockets the component binds, health-check probes of the peers its
// connecting sockets reach, socket statistics from sock_diag, all served on
// one HTTP port (/readyz, /healthz, /metrics, /status).
func runAgent(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	configPath := fs.String("config", zmqconfig.Path, "The component's resolved socket configuration.")
	listen := fs.String("listen", ":9917", "Address of /readyz, /healthz and /metrics.")
	interval := fs.Duration("probe-interval", 5*time.Second, "Time between probes of each bound socket and peer.")
	follow := fs.Duration("config-poll-interval", defaultFollowInterval, "How often to re-read --config to follow endpoint changes.")
	timeout := fs.Duration("probe-timeout", 2*time.Second, "Deadline of one probe (connect, greeting, READY, PING).")
	if err := parseFlags(fs, "agent [flags]", args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg, err := zmqconfig.Load(*configPath)
	if err != nil {
		return err
	}
	a := newAgent(cfg, *interval, *timeout)
	setMemoryLimit(ctx, a.log)
	reg := prometheus.NewRegistry()
	reg.MustRegister(a, buildInfo(), a.followConfig(ctx, *configPath, *follow))
	srv := &http.Server{Addr: *listen, Handler: a.handler(reg), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	go func() { _ = srv.Serve(ln) }()
	a.log.Info("agent running", "listen", ln.Addr().String(), "interval", *interval)
	a.run(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// agent holds the probe results; probe loops write them, scrapes and
// /readyz read them.
type agent struct {
	cfg               *zmqconfig.Config
	interval, timeout time.Duration
	log               *slog.Logger
	pod               string // for /status
	tracker           *sockdiag.Tracker
	diagErrors        atomic.Uint64

	mu      sync.Mutex
	loops   *peerLoops                   // set by run
	bound   map[string]*probeState       // by socket name
	peers   map[peerKey]*probeState      // by socket and endpoint
	remotes map[peerKey][]netip.AddrPort // the addresses each peer endpoint resolved to last
}

type peerKey struct{ socket, endpoint string }

// probeState is the outcome of the last probe of one target.
type probeState struct {
	probed   bool
	up       bool
	at       time.Time // when the last probe finished
	err      string
	result   zmtp.ProbeResult
	ok, fail uint64
	// listenOnly is set for a bound socket whose application speaks ZMTP
	// 3.0 (go-zeromq/zmq4) with a type the prober may not complete a
	// handshake with (PUSH, DEALER, REQ, PAIR): zmq4 leaks a file
	// descriptor for every abandoned handshake, so after one full probe the
	// agent only checks, through sock_diag, that the socket still listens.
	listenOnly bool
}

func newAgent(cfg *zmqconfig.Config, interval, timeout time.Duration) *agent {
	a := &agent{
		cfg: cfg, interval: interval, timeout: timeout,
		log:     slog.With("topology", cfg.Topology, "component", cfg.Component),
		pod:     podName(),
		tracker: sockdiag.NewTracker(),
		bound:   map[string]*probeState{},
		peers:   map[peerKey]*probeState{},
		remotes: map[peerKey][]netip.AddrPort{},
	}
	for _, s := range cfg.Sockets {
		if s.Bind {
			a.bound[s.Name] = &probeState{}
			continue
		}
		for _, ep := range s.Endpoints {
			a.peers[peerKey{s.Name, ep}] = &probeState{}
		}
	}
	return a
}

// run probes every bound socket and every peer, each on its own loop, until
// ctx ends. Peers follow the configuration (agent_follow.go).
func (a *agent) run(ctx context.Context) {
	var wg sync.WaitGroup
	a.mu.Lock()
	cfg := a.cfg
	a.loops = &peerLoops{ctx: ctx, wg: &wg, stop: map[peerKey]context.CancelFunc{}}
	a.mu.Unlock()
	for _, s := range cfg.Sockets {
		if s.Bind {
			wg.Add(1)
			go func() { defer wg.Done(); a.loop(ctx, 0, func() { a.probeBound(ctx, s) }) }()
		}
	}
	a.followPeers(cfg)
	<-ctx.Done()
	wg.Wait()
}

func (a *agent) loop(ctx context.Context, jitter time.Duration, f func()) {
	for {
		f()
		d := a.interval
		if jitter > 0 {
			d += time.Duration(rand.Int64N(int64(2*jitter))) - jitter
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// probeBound checks that the application serves a bound socket of the
// expected type on the pod's loopback. It never completes a handshake with
// a socket that would route messages to the probe (see zmtp.ProbeReady).
func (a *agent) probeBound(ctx context.Context, s zmqconfig.Socket) {
	st := a.bound[s.Name]
	a.mu.Lock()
	listenOnly, last := st.listenOnly, st.result
	a.mu.Unlock()
	if listenOnly {
		if conns, err := sockdiag.Dump(); err == nil && sockdiag.Listening(conns, uint16(s.Port)) {
			a.record(st, last, nil, "bound socket", s.Name)
			return
		}
		// The listener is gone (or unknown): probe for real again.
	}
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", s.Port)
	res, err := a.probeOnce(ctx, s, ep, zmtp.ProbeReady)
	if err == nil {
		err = boundAnswers(s, ep, res)
	}
	a.mu.Lock()
	st.listenOnly = err == nil && res.Version.Minor == 0 && !res.SentReady
	a.mu.Unlock()
	a.record(st, res, err, "bound socket", s.Name)
}

// probePeer checks one peer of a connecting socket: handshake latency, its
// Socket-Type and ZMTP version, and a PING round trip where that is safe.
// Its outcome never affects readiness: a pod must not become unready
// because a peer is down, or failures would cascade through the topology.
func (a *agent) probePeer(ctx context.Context, s zmqconfig.Socket, ep string) {
	res, err := a.probeOnce(ctx, s, ep, zmtp.ProbePing)
	a.mu.Lock()
	st := a.peers[peerKey{s.Name, ep}]
	a.mu.Unlock()
	if st == nil || ctx.Err() != nil {
		return // the endpoint left the configuration meanwhile
	}
	a.record(st, res, err, "peer", s.Name+" "+ep)
	a.resolve(ctx, s.Name, ep)
}

func (a *agent) probeOnce(ctx context.Context, s zmqconfig.Socket, ep string, mode zmtp.ProbeMode) (zmtp.ProbeResult, error) {
	opts, err := probeOptions(s, mode)
	if err != nil {
		return zmtp.ProbeResult{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	return zmtp.Probe(pctx, ep, opts)
}

func (a *agent) record(st *probeState, res zmtp.ProbeResult, err error, what, name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	was := st.up
	st.probed, st.up, st.result, st.err, st.at = true, err == nil, res, "", time.Now()
	if err != nil {
		st.fail++
		st.err = err.Error()
	} else {
		st.ok++
	}
	switch {
	case was && !st.up:
		a.log.Warn(what+" down", "socket", name, "err", err)
	case !was && st.up:
		a.log.Info(what+" up", "socket", name, "type", res.SocketType, "zmtp", res.Version, "latency", res.Latency)
	}
}

// resolve records the addresses a connecting socket's endpoint resolves
// to now (replacing the previous answer, so a restarted peer's old address
// is forgotten), so that its kernel connections can be attributed to it.
func (a *agent) resolve(ctx context.Context, socket, endpoint string) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "tcp" {
		return
	}
	port, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", u.Hostname())
	if err != nil {
		return
	}
	resolved := make([]netip.AddrPort, len(addrs))
	for i, addr := range addrs {
		resolved[i] = netip.AddrPortFrom(addr.Unmap(), uint16(port))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.peers[peerKey{socket, endpoint}] != nil { // still configured
		a.remotes[peerKey{socket, endpoint}] = resolved
	}
}

// ready reports whether every bound socket answered its last probe with the
// expected type, and why not.
func (a *agent) ready() (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.cfg.Sockets {
		st := a.bound[s.Name]
		if st == nil {
			continue
		}
		switch {
		case !st.probed:
			return false, fmt.Sprintf("socket %s (port %d) not probed yet", s.Name, s.Port)
		case !st.up:
			return false, fmt.Sprintf("socket %s (port %d): %s", s.Name, s.Port, st.err)
		}
	}
	return true, "ok"
}

func (a *agent) handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := a.ready()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	mux.HandleFunc("GET "+agentstatus.Path, a.serveStatus)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelError)}))
	return mux
}
