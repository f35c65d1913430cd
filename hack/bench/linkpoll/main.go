// Command linkpoll measures the operator's link poller alone against many
// stub sidecar agents on loopback: whether each pod is polled once per
// period (the period is held), how long polls take, and what polling costs
// the operator's process in CPU and memory, beside a baseline measured in
// the same run (the same process holding the same pod list, not polling).
//
// The stubs (internal/agentstub, real HTTP servers serving a realistic
// worker document, one per address 127.0.x.y) run in a child process, so
// that their CPU is not counted as the poller's.
//
//	go run ./hack/bench/linkpoll --agents 1000 --period 15s --rounds 3
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/internal/agentstub"
	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
)

func main() {
	agents := flag.Int("agents", 1000, "Stub sidecar agents (pods), one per loopback address 127.0.x.y.")
	period := flag.Duration("period", linkpoll.DefaultPeriod, "Poll period (--link-poll-period).")
	workers := flag.Int("workers", linkpoll.DefaultWorkers, "Poll workers (--link-poll-workers).")
	rounds := flag.Int("rounds", 3, "Periods to measure after a warm-up period.")
	keepAlive := flag.Bool("keep-alive", false, "Keep one idle connection per pod between polls; false (the poller's default transport) opens one per poll.")
	stubs := flag.Bool("stubs", false, "Internal: serve the stub agents and print their addresses.")
	flag.Parse()
	var err error
	if *stubs {
		err = serveStubs(*agents)
	} else {
		err = run(*agents, *period, *workers, *rounds, *keepAlive)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "linkpoll bench:", err)
		os.Exit(1)
	}
}

// address is the i-th stub's loopback address.
func address(i int) string { return fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250) }

// serveStubs starts the agents, prints "ready <addr> ..." and serves until
// stdin closes.
func serveStubs(n int) error {
	addrs := make([]string, n)
	for i := range n {
		a, err := agentstub.Start(address(i), 0)
		if err != nil {
			return err
		}
		pod := fmt.Sprintf("bench-worker-%d", i)
		a.Set(workerDocument(pod, int64(80+i%40)))
		addrs[i] = a.Addr
	}
	fmt.Println("ready " + strings.Join(addrs, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// workerDocument is a pipeline worker's document: two connecting sockets,
// one bound.
func workerDocument(pod string, rtt int64) agentstatus.Document {
	peer := func(ep string) agentstatus.Peer {
		return agentstatus.Peer{Endpoint: ep, Addresses: []string{"10.96.0.10:5557"}, Connections: 1,
			Probe: agentstatus.Probe{Probed: true, Up: true, LastProbe: time.Now(), HandshakeMicros: 3 * rtt, PingRTTMicros: rtt,
				ZMTPVersion: "3.1", PeerSocketType: "PUSH", Successes: 1000}}
	}
	return agentstatus.Document{Topology: "bench", Namespace: "bench", Component: "worker", Pod: pod, Sockets: []agentstatus.Socket{
		{Name: "tasks", Type: "PULL", Peers: []agentstatus.Peer{peer("tcp://bench-ventilator.bench.svc.cluster.local:5557")}, Connections: 1, BytesReceived: 1 << 30},
		{Name: "results", Type: "PUSH", Peers: []agentstatus.Peer{peer("tcp://bench-sink.bench.svc.cluster.local:5558")}, Connections: 1, BytesSent: 1 << 29},
		{Name: "metrics", Type: "PUB", Bind: true, Port: 9000, Listener: &agentstatus.Probe{Probed: true, Up: true, HandshakeMicros: 200}},
	}}
}

// recorder is the poller's transport, recording when each pod was polled
// and how long each request took.
type recorder struct {
	next  http.RoundTripper
	mu    sync.Mutex
	polls map[string][]time.Time // by host
	lat   []time.Duration
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := r.next.RoundTrip(req)
	r.mu.Lock()
	r.polls[req.URL.Host] = append(r.polls[req.URL.Host], start)
	r.lat = append(r.lat, time.Since(start))
	r.mu.Unlock()
	return resp, err
}

func run(n int, period time.Duration, workers, rounds int, keepAlive bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.CommandContext(ctx, self, "--stubs", "--agents", strconv.Itoa(n))
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); _ = child.Wait() }()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "ready ") {
		return fmt.Errorf("stub agents did not start: %v", sc.Err())
	}
	addrs := strings.Fields(strings.TrimPrefix(sc.Text(), "ready "))

	pods := make([]*corev1.Pod, len(addrs))
	for i, addr := range addrs {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		pods[i] = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("bench-worker-%d", i), ResourceVersion: "1",
				Labels: map[string]string{render.LabelTopology: fmt.Sprintf("t%d", i/10), render.LabelComponent: "worker"}},
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: render.SidecarContainer,
				Ports: []corev1.ContainerPort{{Name: render.SidecarPortName, ContainerPort: int32(p)}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: host,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		}
	}
	source := func(context.Context) ([]*corev1.Pod, error) { return pods, nil }
	fmt.Printf("%d stub agents on 127.0.x.y; period %s, %d workers, keep-alive %t, %d measured periods after a warm-up period\n", n, period, workers, keepAlive, rounds)

	// Baseline: the same process, pods listed every second, no polling.
	cpu0, _ := usage()
	baseEnd := time.Now().Add(period)
	for time.Now().Before(baseEnd) {
		if _, err := source(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	cpu1, rss1 := usage()
	baseCPU := cpu1 - cpu0

	tr := linkpoll.NewTransport(period, linkpoll.DefaultTimeout)
	tr.DisableKeepAlives = !keepAlive
	rec := &recorder{next: tr, polls: map[string][]time.Time{}}
	p, err := linkpoll.New(source, linkpoll.Options{Period: period, Workers: workers, Transport: rec})
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Start(pctx) }()
	go func() { // the controller's side of the events channel
		for range p.Events() {
		}
	}()
	// Warm-up period: first polls of every pod, spread over a tick.
	if err := sleep(ctx, period); err != nil {
		cancel()
		return err
	}
	cpu2, _ := usage()
	measureStart := time.Now()
	if err := sleep(ctx, time.Duration(rounds)*period); err != nil {
		cancel()
		return err
	}
	cpu3, rss3 := usage()
	measured := time.Since(measureStart)
	cancel()
	if err := <-done; err != nil {
		return err
	}

	// Intervals between consecutive polls of each pod during the measured
	// window, and the number of pods reported.
	rec.mu.Lock()
	var intervals []time.Duration
	var missing int
	for _, addr := range addrs {
		ts := rec.polls[addr]
		if len(ts) == 0 {
			missing++
		}
		for i := 1; i < len(ts); i++ {
			if ts[i].After(measureStart) {
				intervals = append(intervals, ts[i].Sub(ts[i-1]))
			}
		}
	}
	lat := append([]time.Duration(nil), rec.lat...)
	total := 0
	for _, ts := range rec.polls {
		total += len(ts)
	}
	rec.mu.Unlock()
	reported := 0
	for i := 0; i < n; i += 10 {
		if r := p.Report(types.NamespacedName{Namespace: "bench", Name: fmt.Sprintf("t%d", i/10)}); r != nil {
			for _, pr := range r.Pods {
				if !pr.Stale {
					reported++
				}
			}
		}
	}
	slices.Sort(intervals)
	slices.Sort(lat)

	pollCPU := cpu3 - cpu2
	perPeriod := pollCPU / float64(rounds) * (float64(rounds) * period.Seconds() / measured.Seconds())
	fmt.Printf("polls: %d in all; %d pods never polled; %d/%d pods reported fresh at the end\n", total, missing, reported, n)
	fmt.Printf("interval between polls of one pod (period %s): n=%d min %s p50 %s mean %s p99 %s max %s\n",
		period, len(intervals), q(intervals, 0), q(intervals, 0.5), mean(intervals), q(intervals, 0.99), q(intervals, 1))
	fmt.Printf("poll latency: p50 %s p99 %s max %s\n", q(lat, 0.5), q(lat, 0.99), q(lat, 1))
	fmt.Printf("operator CPU: baseline (no polling) %.3f s per period; polling %.3f s per period (%.2f%% of a core)\n",
		baseCPU, perPeriod, 100*perPeriod/period.Seconds())
	fmt.Printf("operator RSS: baseline %.1f MiB; polling %.1f MiB (peak %.1f MiB)\n", mib(rss1), mib(rss3), mib(peakRSS()))
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// usage is this process's CPU seconds (user+system) and resident memory.
func usage() (cpu float64, rss uint64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		cpu = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	return cpu, statusKB("VmRSS:") * 1024
}

func peakRSS() uint64 { return statusKB("VmHWM:") * 1024 }

func statusKB(field string) uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			return v
		}
	}
	return 0
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func q(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))].Round(time.Millisecond)
}

func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var s time.Duration
	for _, x := range d {
		s += x
	}
	return (s / time.Duration(len(d))).Round(time.Millisecond)
}
