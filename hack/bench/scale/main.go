// Command scale measures the operator at scale against the floor that
// Kubernetes itself sets. For each N, each of the two phases gets a fresh
// control plane on loopback (etcd, kube-apiserver, kube-controller-manager's
// Deployment, ReplicaSet and StatefulSet controllers, kube-scheduler, and
// kwok with fake nodes, so that pods become Running and Ready without
// containers), so that both start from the same empty cluster:
//
//  1. the floor: the children of N pipeline topologies (3 components of 5
//     pods each), rendered by the operator's own render package, applied
//     directly with server-side apply at the manager's client QPS; time
//     until every workload is ready;
//  2. the operator: the manager binary as a local process (no leader
//     election, no webhook server: --webhook-cert-mode=none; no link
//     polling: kwok's pods have no sidecar to answer), N topologies
//     created; time until every topology is Ready, the manager's API
//     requests by verb and status code, reconciles, reconcile time,
//     workqueue wait, CPU and peak RSS (from its metrics and /proc);
//  3. idle: the manager's writes while nothing changes (0 expected);
//  4. restart: the manager stopped and started again; its writes until it
//     has reconciled every topology (0 expected).
//
// It prints progress while it runs, at the end of each phase the API
// server's requests by total time (count and mean latency, from its
// metrics: apilatency.go), and a table at the end, and tears down what it
// started. --apiserver-profile=D records a kube-apiserver CPU profile of the
// first D of each phase (profile.go).
//
//	make bench-scale N=50,200,1000
//
// With --api-cost it measures instead what one topology write costs the
// API server (apicost.go), for the CRDs as generated or as edited by hand:
//
//	make bench-scale BENCH_ARGS="--api-cost=1000 --rounds=3 --api-cost-crds=config/crd/bases,/tmp/edited"
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// options are the benchmark's flags.
type options struct {
	ns          []int
	rounds      int
	manager     string
	managerArgs []string
	qps         int
	workers     int
	idle        time.Duration
	timeout     time.Duration
	workDir     string
	cluster     clusterConfig
	label       string
	// profile, if positive, records a kube-apiserver CPU profile of the
	// first profile of each phase (apiserver.pprof in its directory).
	profile time.Duration
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var (
		o     options
		ns    string
		extra stringList
	)
	flag.StringVar(&ns, "n", "50,200,1000", "Comma-separated topology counts; each gets a fresh cluster.")
	flag.IntVar(&o.rounds, "rounds", 1, "Floor and operator measured this many times in turn at each N; the report's row is the round of median ratio, with every round's ratio beside it.")
	flag.StringVar(&o.manager, "manager", "bin/manager", "The manager binary to measure.")
	flag.Var(&extra, "manager-arg", "An extra flag for the manager (repeatable), e.g. --manager-arg=--max-concurrent-reconciles=8.")
	flag.StringVar(&o.label, "label", "", "A name for the manager in the report (default: the binary's path).")
	flag.IntVar(&o.qps, "floor-qps", 100, "Client QPS (burst 2x) of the floor's direct apply and of the topology creation; set it to the manager's --kube-api-qps.")
	flag.IntVar(&o.workers, "floor-workers", 8, "Concurrent appliers of the floor (one topology's children each); set it to the manager's --max-concurrent-reconciles.")
	flag.DurationVar(&o.idle, "idle", 30*time.Second, "How long to count the manager's writes while idle.")
	flag.DurationVar(&o.timeout, "timeout", 40*time.Minute, "Bound on each wait for all ready.")
	flag.StringVar(&o.workDir, "work-dir", "", "Where logs and kubeconfigs go (default: a new temporary directory).")
	flag.StringVar(&o.cluster.k8sBin, "k8s-bin", "", "Directory of etcd, kube-apiserver, kube-controller-manager and kube-scheduler (make cluster-bins).")
	flag.StringVar(&o.cluster.kwok, "kwok", "bin/kwok", "The kwok binary.")
	flag.StringVar(&o.cluster.kwokDir, "kwok-dir", "", "The sigs.k8s.io/kwok module directory, for its stage definitions (go list -modfile=hack/tools/go.mod -m -f '{{.Dir}}' sigs.k8s.io/kwok).")
	flag.StringVar(&o.cluster.crdDir, "crd-dir", "config/crd/bases", "The operator's CRDs.")
	flag.IntVar(&o.cluster.nodes, "nodes", 10, "Fake nodes.")
	flag.IntVar(&o.cluster.kcmQPS, "kube-qps", 100, "Client QPS (burst 2x) of kube-controller-manager and kube-scheduler.")
	flag.DurationVar(&o.profile, "apiserver-profile", 0, "If positive, record a kube-apiserver CPU profile over this long from the start of each phase's creates (apiserver.pprof in the phase's directory; go tool pprof -top); with --api-cost, from the first status patch (in --work-dir).")
	apiCostN := flag.Int("api-cost", 0, "Instead of the benchmark: create this many topologies and patch the status of each, on envtest, and print the kube-apiserver CPU time per request, for each of --api-cost-crds in turn (--rounds times).")
	apiCostCRDs := flag.String("api-cost-crds", "", "Comma-separated CRD directories for --api-cost (default: --crd-dir).")
	flag.Parse()
	if o.profile > 0 && o.profile < time.Second {
		fmt.Fprintf(os.Stderr, "bench: --apiserver-profile: %s, want at least 1s\n", o.profile)
		os.Exit(2)
	}
	// The benchmark's own clients log nothing.
	ctrllog.SetLogger(logr.Discard())
	// An interrupt cancels the run, which then stops what it started.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if *apiCostN > 0 {
		dirs := []string{o.cluster.crdDir}
		if *apiCostCRDs != "" {
			dirs = strings.Split(*apiCostCRDs, ",")
		}
		dir := o.workDir
		if dir == "" {
			dir = os.TempDir()
		}
		if err := runAPICost(ctx, o.cluster.k8sBin, dirs, *apiCostN, max(o.rounds, 1), o.profile, dir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	o.managerArgs = extra
	if o.label == "" {
		o.label = o.manager
	}
	for _, s := range strings.Split(ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: --n: %q is not a positive count\n", s)
			os.Exit(2)
		}
		o.ns = append(o.ns, n)
	}
	if o.rounds < 1 {
		fmt.Fprintf(os.Stderr, "bench: --rounds: %d, want at least 1\n", o.rounds)
		os.Exit(2)
	}
	if o.cluster.k8sBin == "" || o.cluster.kwokDir == "" {
		fmt.Fprintln(os.Stderr, "bench: --k8s-bin and --kwok-dir are required (make bench-scale sets them)")
		os.Exit(2)
	}
	for _, bin := range []string{o.manager, o.cluster.kwok, filepath.Join(o.cluster.k8sBin, "kube-controller-manager"), filepath.Join(o.cluster.k8sBin, "kube-scheduler")} {
		if _, err := os.Stat(bin); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v (make bench-scale builds it)\n", err)
			os.Exit(2)
		}
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is one row of the report.
type result struct {
	n                          int
	floor, operator            time.Duration
	reqs                       requests
	reconciles                 float64
	reconcileAvg, queueWaitAvg time.Duration
	cpu                        float64 // seconds
	// throttled is the time the manager's requests spent waiting for its
	// client-side limit (--kube-api-qps), summed over requests, seconds.
	throttled                 float64
	rssPeak                   int64
	idleWrites, restartWrites float64
	// CPU time of each process of a phase's cluster (and the manager)
	// from its start to all Ready: where the operator's extra time goes.
	floorCPU, operatorCPU map[string]time.Duration
	// spread and lag, per topology: how far apart its workloads became
	// ready, and how long after the last of them it reported Ready
	// (timeline).
	spread, lag []time.Duration
	// ratios are every round's operator/floor ratio at this N, in order,
	// and adjusted the same, adjusted for the machine's speed (speed.go).
	ratios, adjusted []float64
}

// medianRound returns the round of median ratio (the lower middle one of
// an even count), with every round's ratio.
func medianRound(rounds []result) result {
	sorted := append([]result(nil), rounds...)
	sort.Slice(sorted, func(i, j int) bool { return ratio(sorted[i]) < ratio(sorted[j]) })
	m := sorted[(len(sorted)-1)/2]
	for _, r := range rounds {
		m.ratios = append(m.ratios, ratio(r))
		m.adjusted = append(m.adjusted, adjustedRatio(r))
	}
	return m
}

func run(ctx context.Context, o options) error {
	dir := o.workDir
	if dir == "" {
		d, err := os.MkdirTemp("", "zmq-bench-scale-")
		if err != nil {
			return err
		}
		dir = d
	}
	fmt.Printf("scale benchmark: manager %s %s, logs in %s\n", o.label, strings.Join(o.managerArgs, " "), dir)
	var results []result
	for _, n := range o.ns {
		var rounds []result
		for i := 1; i <= o.rounds; i++ {
			d := filepath.Join(dir, fmt.Sprintf("n%d", n))
			if o.rounds > 1 {
				d = filepath.Join(dir, fmt.Sprintf("n%d-round%d", n, i))
				fmt.Printf("\n== N=%d: round %d of %d\n", n, i, o.rounds)
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			r, err := runN(ctx, o, n, d)
			if err != nil {
				return fmt.Errorf("N=%d: %w", n, err)
			}
			printRow(r)
			rounds = append(rounds, r)
		}
		results = append(results, medianRound(rounds))
	}
	fmt.Printf("\nmanager %s %s\n", o.label, strings.Join(o.managerArgs, " "))
	printTable(results)
	if o.rounds > 1 {
		fmt.Printf("\nEach row is the round of median ratio of %d; every round's ratio, in order:\n", o.rounds)
		for _, r := range results {
			parts := make([]string, len(r.ratios))
			for i, x := range r.ratios {
				parts[i] = fmt.Sprintf("%.2fx (%.2fx adjusted)", x, r.adjusted[i])
			}
			fmt.Printf("  N=%d: %s\n", r.n, strings.Join(parts, ", "))
		}
	}
	fmt.Println("\nCPU time by process from the start of each phase's cluster to all Ready:")
	for _, r := range results {
		fmt.Printf("  N=%d floor:    %s\n  N=%d operator: %s\n", r.n, formatCPU(r.floorCPU), r.n, formatCPU(r.operatorCPU))
	}
	return nil
}

func runN(ctx context.Context, o options, n int, dir string) (result, error) {
	r := result{n: n}
	var err error
	if r.floor, r.floorCPU, err = runFloor(ctx, o, n, filepath.Join(dir, "floor")); err != nil {
		return r, err
	}
	return runOperator(ctx, o, r, filepath.Join(dir, "operator"))
}

// benchNS is the namespace of the floor's objects and of the topologies.
const benchNS = "bench"

// startN starts a fresh cluster for one phase of N, with the benchmark's
// namespace, a client at the floor's QPS and a watcher of what is ready.
func startN(ctx context.Context, o options, n int, phase, dir string) (*cluster, client.Client, *watcher, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, nil, err
	}
	fmt.Printf("\n== N=%d %s: starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (%d fake nodes)\n", n, phase, o.cluster.nodes)
	c, err := startCluster(ctx, o.cluster, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	cl, err := clientAt(c.cfg, o.qps)
	if err == nil {
		err = createNamespace(ctx, cl, benchNS)
	}
	var w *watcher
	if err == nil {
		w, err = startWatcher(ctx, c.cfg, benchNS)
	}
	if err != nil {
		c.stop()
		return nil, nil, nil, err
	}
	return c, cl, w, nil
}

// runFloor measures the floor on a cluster of its own: the operator's
// children of n topologies applied directly, until every workload is ready.
func runFloor(ctx context.Context, o options, n int, dir string) (time.Duration, map[string]time.Duration, error) {
	c, cl, w, err := startN(ctx, o, n, "floor", dir)
	if err != nil {
		return 0, nil, err
	}
	defer func() {
		fmt.Printf("== N=%d floor: tearing down\n", n)
		w.stop()
		c.stop()
	}()
	groups, err := floorObjects(benchNS, n, render.Options{ClusterDomain: "cluster.local", SidecarImage: "zmq-sidecar:bench"})
	if err != nil {
		return 0, nil, err
	}
	workloads := 0
	for _, g := range groups {
		for _, obj := range g {
			if obj.Kind == render.KindDeployment || obj.Kind == render.KindStatefulSet {
				workloads++
			}
		}
	}
	fmt.Printf("== N=%d floor: applying %d objects (%d workloads) directly at %d QPS, %d workers\n", n, countObjects(groups), workloads, o.qps, o.workers)
	calls := startCalls(ctx, c.cfg)
	start := time.Now()
	profiled := startProfile(ctx, o, c, dir)
	if err := applyAll(ctx, cl, groups, o.workers); err != nil {
		return 0, nil, err
	}
	fmt.Printf("  floor: applied in %.1fs\n", time.Since(start).Seconds())
	d, err := waitFor(ctx, "floor", start, workloads, o.timeout, func() (int, error) {
		return w.readyWorkloads(ctx, benchNS)
	}, func() string { return "workloads" })
	if err != nil {
		return 0, nil, fmt.Errorf("%w (%s)", err, diagnose(ctx, cl, benchNS))
	}
	cpu, err := processCPU()
	if err != nil {
		return 0, nil, err
	}
	fmt.Printf("  floor: all %d workloads ready in %.1fs; CPU: %s\n", workloads, d.Seconds(), formatCPU(cpu))
	calls.report(ctx, "floor")
	profiled()
	return d, cpu, nil
}

// runOperator measures the manager on a fresh cluster of its own, so that
// it starts from the same empty state as the floor: time to all Ready,
// then idle and restart writes.
func runOperator(ctx context.Context, o options, r result, dir string) (result, error) {
	n := r.n
	c, cl, w, err := startN(ctx, o, n, "operator", dir)
	if err != nil {
		return r, err
	}
	defer func() {
		fmt.Printf("== N=%d operator: tearing down\n", n)
		w.stop()
		c.stop()
	}()
	m, err := startManager(ctx, o, c, dir, "manager")
	if err != nil {
		return r, err
	}
	defer func() { m.stop() }()
	base, err := fetchMetrics(ctx, m.metrics)
	if err != nil {
		return r, err
	}
	ts := make([]*zmqv1.ZMQTopology, n)
	workloads := 0
	for i := range ts {
		ts[i] = pipeline(benchNS, i)
		workloads += len(ts[i].Spec.Components)
	}
	fmt.Printf("== N=%d operator: creating %d topologies\n", n, n)
	calls := startCalls(ctx, c.cfg)
	start := time.Now()
	profiled := startProfile(ctx, o, c, dir)
	if err := createAll(ctx, cl, ts, o.workers); err != nil {
		return r, err
	}
	r.operator, err = waitFor(ctx, "operator", start, n, o.timeout, func() (int, error) {
		return w.readyTopologies(ctx, benchNS)
	}, func() string {
		extra := "topologies"
		// Workloads ready ahead of their topologies are time spent in
		// the manager, not in the cluster.
		if wl, err := w.readyWorkloads(ctx, benchNS); err == nil {
			extra += fmt.Sprintf(" (%d/%d workloads)", wl, workloads)
		}
		if sc, err := fetchMetrics(ctx, m.metrics); err == nil {
			extra += fmt.Sprintf("; manager: %.0f requests (%.1fs waiting for the client-side limit), %.0f reconciles, queue depth %.0f",
				requestsOf(sc).minus(requestsOf(base)).total(), throttled(sc)-throttled(base),
				sc.sum("controller_runtime_reconcile_total", map[string]string{"controller": "zmqtopology"}),
				sc.sum("workqueue_depth", map[string]string{"name": "zmqtopology"}))
		}
		return extra
	})
	if err != nil {
		return r, fmt.Errorf("%w (%s)", err, diagnose(ctx, cl, benchNS))
	}
	atReady, err := fetchMetrics(ctx, m.metrics)
	if err != nil {
		return r, err
	}
	_, r.rssPeak = procStatus(m.proc.cmd.Process.Pid)
	r.reqs = requestsOf(atReady).minus(requestsOf(base))
	zc := map[string]string{"controller": "zmqtopology"}
	zq := map[string]string{"name": "zmqtopology"}
	r.reconciles = atReady.sum("controller_runtime_reconcile_total", zc)
	r.reconcileAvg = avg(atReady, "controller_runtime_reconcile_time_seconds", zc)
	r.queueWaitAvg = avg(atReady, "workqueue_queue_duration_seconds", zq)
	r.cpu = atReady.sum("process_cpu_seconds_total", nil) - base.sum("process_cpu_seconds_total", nil)
	r.throttled = throttled(atReady) - throttled(base)
	if r.operatorCPU, err = processCPU(); err != nil {
		return r, err
	}
	fmt.Printf("  operator: all %d topologies Ready in %.1fs (floor %.1fs); CPU: %s\n", n, r.operator.Seconds(), r.floor.Seconds(), formatCPU(r.operatorCPU))
	calls.report(ctx, "operator")
	profiled()
	r.spread, r.lag = w.timeline.summary()
	fmt.Printf("  per topology: its workloads became ready within %s of one another; it reported Ready %s after the last of them\n",
		formatQuantiles(r.spread), formatQuantiles(r.lag))

	// Idle.
	const settle = 10 * time.Second
	fmt.Printf("== N=%d idle: counting the manager's writes for %s (after %s)\n", n, o.idle, settle)
	if err := sleep(ctx, settle); err != nil {
		return r, err
	}
	before, err := fetchMetrics(ctx, m.metrics)
	if err != nil {
		return r, err
	}
	if err := sleep(ctx, o.idle); err != nil {
		return r, err
	}
	after, err := fetchMetrics(ctx, m.metrics)
	if err != nil {
		return r, err
	}
	idle := requestsOf(after).minus(requestsOf(before))
	r.idleWrites = idle.writes()
	if _, peak := procStatus(m.proc.cmd.Process.Pid); peak > r.rssPeak {
		r.rssPeak = peak
	}
	fmt.Printf("  idle: writes %.0f (requests: %s)\n", r.idleWrites, formatCounts(idle.byMethod))

	// Restart.
	fmt.Printf("== N=%d restart: stopping the manager and starting it again\n", n)
	m.stop()
	m, err = startManager(ctx, o, c, dir, "manager-restarted")
	if err != nil {
		return r, err
	}
	var quiet int
	err = poll(ctx, 5*time.Minute, func() (bool, error) {
		sc, err := fetchMetrics(ctx, m.metrics)
		if err != nil {
			return false, nil
		}
		done := sc.sum("controller_runtime_reconcile_total", zc) >= float64(n) && sc.sum("workqueue_depth", zq) == 0
		if done {
			quiet++
		} else {
			quiet = 0
		}
		return quiet >= 10, nil
	})
	if err != nil {
		return r, fmt.Errorf("waiting for the restarted manager to reconcile every topology: %w", err)
	}
	sc, err := fetchMetrics(ctx, m.metrics)
	if err != nil {
		return r, err
	}
	rr := requestsOf(sc)
	r.restartWrites = rr.writes()
	fmt.Printf("  restart: %.0f reconciles, writes %.0f (requests: %s)\n", sc.sum("controller_runtime_reconcile_total", zc), r.restartWrites, formatCounts(rr.byMethod))
	return r, nil
}

// startProfile starts the kube-apiserver profile of a phase if
// --apiserver-profile asks for one; the returned func waits for it and
// says where it is.
func startProfile(ctx context.Context, o options, c *cluster, dir string) func() {
	if o.profile <= 0 {
		return func() {}
	}
	return apiserverProfile(ctx, c.cfg, o.profile, filepath.Join(dir, "apiserver.pprof"), "of the first "+o.profile.String())
}

func countObjects(groups [][]render.Object) int {
	n := 0
	for _, g := range groups {
		n += len(g)
	}
	return n
}

// throttled is the sum of rest_client_rate_limiter_duration_seconds: how
// long, in seconds, the manager's requests waited for its client-side
// limit, added over requests (concurrent waits add up).
func throttled(sc scrape) float64 {
	return sc.sum("rest_client_rate_limiter_duration_seconds_sum", nil)
}

func avg(sc scrape, histogram string, match map[string]string) time.Duration {
	count := sc.sum(histogram+"_count", match)
	if count == 0 {
		return 0
	}
	return time.Duration(sc.sum(histogram+"_sum", match) / count * float64(time.Second))
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// managerProcess is the manager under test.
type managerProcess struct {
	proc    *process
	metrics string // host:port of /metrics
}

func (m *managerProcess) stop() {
	if m != nil && m.proc != nil {
		m.proc.stop(30 * time.Second)
	}
}

// startManager runs the manager against the cluster, outside it, with no
// leader election and no webhook server, and waits for its metrics.
func startManager(ctx context.Context, o options, c *cluster, dir, name string) (*managerProcess, error) {
	metricsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	probePort, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--leader-elect=false",
		"--webhook-cert-mode=none",
		"--metrics-secure=false",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probePort),
		"--sidecar-image=zmq-sidecar:bench",
		// kwok's pods run no sidecar: polling them would only time out
		// and report every link down.
		"--link-poll-period=0",
	}, o.managerArgs...)
	p, err := startProcess(dir, name, o.manager, args, "KUBECONFIG="+c.kubeconfig)
	if err != nil {
		return nil, err
	}
	m := &managerProcess{proc: p, metrics: fmt.Sprintf("127.0.0.1:%d", metricsPort)}
	err = poll(ctx, time.Minute, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("manager exited; see %s", p.log.Name())
		}
		_, err := fetchMetrics(ctx, m.metrics)
		return err == nil, nil
	})
	if err != nil {
		m.stop()
		return nil, fmt.Errorf("waiting for the manager's metrics: %w", err)
	}
	return m, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func printRow(r result) {
	fmt.Printf("  N=%d: operator %.1fs, floor %.1fs (%.2fx; %.2fx adjusted for the machine's speed, the same pods having taken %.2fx the CPU time); requests %.0f (%s; %s), %.1fs waiting for the client-side limit in all; %.0f reconciles, %s avg; queue wait %s avg; CPU %.1fs; RSS peak %.0f MiB; idle writes %.0f; restart writes %.0f\n",
		r.n, r.operator.Seconds(), r.floor.Seconds(), ratio(r), adjustedRatio(r), slowdown(r), r.reqs.total(), formatCounts(r.reqs.byMethod), formatCounts(r.reqs.byCode), r.throttled,
		r.reconciles, r.reconcileAvg.Round(time.Millisecond), r.queueWaitAvg.Round(time.Millisecond), r.cpu, float64(r.rssPeak)/(1<<20), r.idleWrites, r.restartWrites)
}

func ratio(r result) float64 {
	if r.floor == 0 {
		return 0
	}
	return r.operator.Seconds() / r.floor.Seconds()
}

func printTable(rs []result) {
	fmt.Println("| N | all Ready, operator | floor (direct apply) | ratio | ratio adjusted for the machine's speed | manager requests (by verb; by status) | reconciles (avg time) | avg queue wait | manager CPU | manager peak RSS | idle writes | restart writes |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Printf("| %d | %.1f s | %.1f s | %.2fx | %.2fx | %.0f (%s; %s) | %.0f (%s) | %s | %.1f s | %.0f MiB | %.0f | %.0f |\n",
			r.n, r.operator.Seconds(), r.floor.Seconds(), ratio(r), adjustedRatio(r), r.reqs.total(), formatCounts(r.reqs.byMethod), formatCounts(r.reqs.byCode),
			r.reconciles, r.reconcileAvg.Round(time.Millisecond), r.queueWaitAvg.Round(time.Millisecond), r.cpu, float64(r.rssPeak)/(1<<20), r.idleWrites, r.restartWrites)
	}
}
