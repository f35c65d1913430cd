package linkpoll

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/internal/agentstub"
	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
)

// pods is a mutable pod list for the poller's PodSource.
type pods struct {
	mu   sync.Mutex
	list []corev1.Pod
}

func (p *pods) source(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, len(p.list))
	for i := range p.list {
		out[i] = p.list[i].DeepCopy()
	}
	return out, nil
}

func (p *pods) set(list ...corev1.Pod) {
	p.mu.Lock()
	p.list = list
	p.mu.Unlock()
}

// runningPod is a running, ready pod of topology t whose sidecar is the
// stub at addr.
func runningPod(ns, t, component, name, addr string) corev1.Pod {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{render.LabelTopology: t, render.LabelComponent: component}},
		Spec: corev1.PodSpec{InitContainers: []corev1.Container{{
			Name: render.SidecarContainer, Ports: []corev1.ContainerPort{{Name: render.SidecarPortName, ContainerPort: int32(p)}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: host, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

// workerDocument: a worker whose tasks socket reaches one ventilator with
// the given PING RTT, or fails with err.
func workerDocument(pod string, rtt int64, err string) agentstatus.Document {
	p := agentstatus.Peer{Endpoint: "tcp://t-ventilator:5557", Addresses: []string{"10.0.0.7:5557"}, Connections: 1,
		Probe: agentstatus.Probe{Probed: true, Up: err == "", PingRTTMicros: rtt, HandshakeMicros: 3 * rtt, LastError: err, ZMTPVersion: "3.1", PeerSocketType: "PUSH"}}
	return agentstatus.Document{Topology: "t", Namespace: "a", Component: "worker", Pod: pod, Sockets: []agentstatus.Socket{
		{Name: "tasks", Type: "PULL", Peers: []agentstatus.Peer{p}, Connections: 1},
		{Name: "metrics", Type: "PUB", Bind: true, Port: 9000, Listener: &agentstatus.Probe{Probed: true, Up: true}},
	}}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func startStub(t *testing.T, ip string) *agentstub.Agent {
	t.Helper()
	a, err := agentstub.Start(ip, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// startPoller runs a poller with a short period until the test ends.
func startPoller(t *testing.T, src PodSource, opts Options) (*Poller, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	opts.Registerer = reg
	p, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("poller: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the poller did not stop within 5s of its context")
		}
	})
	return p, reg
}

// nextEvent waits for the poller's next event and returns its topology.
func nextEvent(t *testing.T, p *Poller, within time.Duration) types.NamespacedName {
	t.Helper()
	select {
	case ev := <-p.Events():
		return types.NamespacedName{Namespace: ev.Object.GetNamespace(), Name: ev.Object.GetName()}
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
	}
	return types.NamespacedName{}
}

// answered: the pod's sidecar has answered within the stale period.
func answered(pr PodReport) bool { return !pr.Pending && !pr.Stale }

// noEvent checks that no event comes for d.
func noEvent(t *testing.T, p *Poller, d time.Duration) {
	t.Helper()
	select {
	case ev := <-p.Events():
		t.Fatalf("unexpected event for %s/%s: %+v", ev.Object.GetNamespace(), ev.Object.GetName(), p.Report(types.NamespacedName{Namespace: ev.Object.GetNamespace(), Name: ev.Object.GetName()}))
	case <-time.After(d):
	}
}

// TestPollerFollowsPodsAndChanges drives the real poller against stub
// agents on distinct loopback addresses: a report and one event when pods
// appear, none while they answer the same within RTT buckets, one when a
// peer goes down, one when a pod's sidecar goes silent (stale), one when a
// pod goes away, after which it is never polled again.
func TestPollerFollowsPodsAndChanges(t *testing.T) {
	const period = 300 * time.Millisecond
	key := types.NamespacedName{Namespace: "a", Name: "t"}
	w0, w1 := startStub(t, "127.0.0.21"), startStub(t, "127.0.0.22")
	w0.Set(workerDocument("t-worker-0", 110, ""))
	w1.Set(workerDocument("t-worker-1", 120, ""))
	src := &pods{}
	src.set(runningPod("a", "t", "worker", "t-worker-0", w0.Addr), runningPod("a", "t", "worker", "t-worker-1", w1.Addr))
	p, reg := startPoller(t, src.source, Options{Period: period, Tick: 10 * time.Millisecond, Timeout: 200 * time.Millisecond})

	// The first event may carry pods not polled yet; wait for both polled.
	var r *TopologyReport
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got := nextEvent(t, p, 5*time.Second); got != key {
			t.Fatalf("event for %s", got)
		}
		r = p.Report(key)
		if r != nil && len(r.Pods) == 2 && answered(r.Pods["t-worker-0"]) && answered(r.Pods["t-worker-1"]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report %+v", r)
		}
	}
	want := PodReport{Pod: "t-worker-0", Component: "worker", Ready: true, Sockets: map[string][]PeerReport{
		"tasks": {{Endpoint: "tcp://t-ventilator:5557", Up: true, RTTMicros: 200}},
	}}
	if fmt.Sprint(r.Pods["t-worker-0"]) != fmt.Sprint(want) {
		t.Errorf("report of t-worker-0\n got %+v\nwant %+v", r.Pods["t-worker-0"], want)
	}

	// Steady, with jitter inside the bucket: several periods, no event.
	w0.Set(workerDocument("t-worker-0", 190, ""))
	noEvent(t, p, 4*period)
	if n := w0.Requests(); n < 4 {
		t.Errorf("t-worker-0 polled %d times in about 5 periods", n)
	}

	// A peer goes down.
	w1.Set(workerDocument("t-worker-1", 0, "zmtp: probe tcp://t-ventilator:5557 failed at connect: dial tcp 10.0.0.7:5557: connect: connection refused"))
	nextEvent(t, p, 2*period+time.Second)
	if got := p.Report(key).Pods["t-worker-1"].Sockets["tasks"][0]; got.Up || got.Error != "connection refused" {
		t.Errorf("t-worker-1 tasks peer %+v", got)
	}

	// t-worker-0's sidecar stops answering in time: after 3 periods its
	// report turns stale, once.
	w0.Delay(time.Second)
	silent := time.Now()
	nextEvent(t, p, 6*period+time.Second)
	if pr := p.Report(key).Pods["t-worker-0"]; !pr.Stale || pr.Sockets != nil || pr.Error != "sidecar status unavailable: context deadline exceeded" {
		t.Errorf("silent pod: %+v", pr)
	}
	// The poller received its last good answer no later than the stub
	// sent it, so staleness must come at least StaleAfter (3 periods)
	// after that send, however the scheduler ran the two sides.
	last := w0.LastAnswer()
	t.Logf("stale %s after the silence, %s after the last good answer (period %s)",
		time.Since(silent).Round(time.Millisecond), time.Since(last).Round(time.Millisecond), period)
	if d := time.Since(last); d < 3*period {
		t.Errorf("stale %s after the last good answer: sooner than 3 periods", d)
	}
	noEvent(t, p, 2*period)

	// t-worker-0 goes away: its report goes, and it is not polled again.
	src.set(runningPod("a", "t", "worker", "t-worker-1", w1.Addr))
	nextEvent(t, p, time.Second)
	if _, ok := p.Report(key).Pods["t-worker-0"]; ok {
		t.Error("a pod gone is still reported")
	}
	time.Sleep(period + 100*time.Millisecond) // a poll in flight at removal ends
	before := w0.Requests()
	time.Sleep(3 * period)
	if after := w0.Requests(); after != before {
		t.Errorf("a pod gone was polled %d more times", after-before)
	}

	// The last pod goes: no report at all.
	src.set()
	nextEvent(t, p, time.Second)
	if r := p.Report(key); r != nil {
		t.Errorf("report without pods: %+v", r)
	}

	if n := counterValue(p.metrics.polls.WithLabelValues(ResultOK)); n < 10 {
		t.Errorf("%v ok polls", n)
	}
	if n := counterValue(p.metrics.polls.WithLabelValues(ResultError)); n < 1 {
		t.Errorf("%v failed polls", n)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var observed uint64
	for _, f := range families {
		if f.GetName() == "zmq_operator_link_poll_duration_seconds" {
			observed = f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if observed < 10 {
		t.Errorf("duration histogram has %d observations", observed)
	}
}

// TestPollerNewPodsAtOnce: a pod that starts running is polled within a
// tick, not a period; one that is not running (or has no IP) is not.
func TestPollerNewPodsAtOnce(t *testing.T) {
	w := startStub(t, "127.0.0.23")
	w.Set(workerDocument("t-worker-0", 50, ""))
	pending := runningPod("a", "t", "worker", "t-worker-0", w.Addr)
	pending.Status.Phase = corev1.PodPending
	src := &pods{}
	src.set(pending)
	p, _ := startPoller(t, src.source, Options{Period: time.Minute, Tick: 20 * time.Millisecond})
	noEvent(t, p, 200*time.Millisecond)
	if w.Requests() != 0 {
		t.Fatal("a pending pod was polled")
	}
	src.set(runningPod("a", "t", "worker", "t-worker-0", w.Addr))
	start := time.Now()
	for {
		nextEvent(t, p, 2*time.Second)
		if r := p.Report(types.NamespacedName{Namespace: "a", Name: "t"}); r != nil && answered(r.Pods["t-worker-0"]) {
			break
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a new pod waited %s for its first poll (period 1m)", d)
	}
}

// TestPollerRefusesForeignDocuments: an answer of another APIVersion, an
// HTTP error or garbage counts as no answer.
func TestPollerRefusesForeignDocuments(t *testing.T) {
	w := startStub(t, "127.0.0.24")
	doc := workerDocument("t-worker-0", 50, "")
	doc.APIVersion = "zmq.topology.dev/agent-status/v99"
	w.Set(doc)
	src := &pods{}
	src.set(runningPod("a", "t", "worker", "t-worker-0", w.Addr))
	p, _ := startPoller(t, src.source, Options{Period: 100 * time.Millisecond, Tick: 10 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(p.metrics.polls.WithLabelValues(ResultInvalid)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no invalid polls counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Never a good answer: pending for the stale period, then stale.
	r := p.Report(types.NamespacedName{Namespace: "a", Name: "t"})
	if pr := r.Pods["t-worker-0"]; answered(pr) || pr.Sockets != nil {
		t.Errorf("foreign document counted: %+v", pr)
	}
	for r := p.Report(types.NamespacedName{Namespace: "a", Name: "t"}); !r.Pods["t-worker-0"].Stale; r = p.Report(types.NamespacedName{Namespace: "a", Name: "t"}) {
		if time.Now().After(deadline) {
			t.Fatalf("never answered, not stale: %+v", r.Pods["t-worker-0"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pr := p.Report(types.NamespacedName{Namespace: "a", Name: "t"}).Pods["t-worker-0"]; !strings.HasPrefix(pr.Error, "sidecar status unavailable: ") || pr.Sockets != nil {
		t.Errorf("stale pod: %+v", pr)
	}
	w.Fail(500)
	for counterValue(p.metrics.polls.WithLabelValues(ResultError)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no failed polls counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if counterValue(p.metrics.polls.WithLabelValues(ResultOK)) != 0 {
		t.Error("a foreign answer counted as ok")
	}
}

// inFlight is a transport that records the most requests in flight at once.
type inFlight struct {
	next      http.RoundTripper
	mu        sync.Mutex
	now, most int
}

func (f *inFlight) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.now++
	f.most = max(f.most, f.now)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.now--
		f.mu.Unlock()
	}()
	return f.next.RoundTrip(req)
}

// TestPollerBoundsPolls: with 12 slow sidecars and 3 workers, no more than
// 3 polls are ever in flight, and every pod is still polled.
func TestPollerBoundsPolls(t *testing.T) {
	src := &pods{}
	var list []corev1.Pod
	var stubs []*agentstub.Agent
	for i := range 12 {
		a := startStub(t, fmt.Sprintf("127.0.0.%d", 40+i))
		a.Set(workerDocument(fmt.Sprintf("t-worker-%d", i), 50, ""))
		a.Delay(50 * time.Millisecond)
		stubs = append(stubs, a)
		list = append(list, runningPod("a", "t", "worker", fmt.Sprintf("t-worker-%d", i), a.Addr))
	}
	src.set(list...)
	tr := &inFlight{next: NewTransport(100*time.Millisecond, time.Second)}
	p, _ := startPoller(t, src.source, Options{Period: 100 * time.Millisecond, Tick: 10 * time.Millisecond, Workers: 3, Timeout: time.Second, Transport: tr})
	go func() {
		for range p.Events() {
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range stubs {
		for a.Requests() < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("a pod was polled %d times", a.Requests())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.most > 3 || tr.most < 2 {
		t.Errorf("at most %d polls in flight at once; want 2 or 3 (3 workers)", tr.most)
	}
}

func TestSyncLooksAgainOnlyAtChangedPods(t *testing.T) {
	var list []*corev1.Pod
	p, err := New(func(context.Context) ([]*corev1.Pod, error) { return list, nil }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "a", Name: "w-0"}
	ready := func() (bool, bool) {
		st := p.states[key]
		return st != nil && st.ready, st != nil
	}
	sync := func() {
		t.Helper()
		if err := p.sync(context.Background(), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	pod := runningPod("a", "t", "worker", "w-0", "127.0.0.1:1")
	pod.ResourceVersion = "1"
	list = []*corev1.Pod{pod.DeepCopy()}
	sync()
	if r, kept := ready(); !kept || !r {
		t.Fatalf("first look: ready %t, kept %t", r, kept)
	}
	// The same version again (as an informer lists it): not looked at, kept.
	unready := pod.DeepCopy()
	unready.Status.Conditions[0].Status = corev1.ConditionFalse
	list = []*corev1.Pod{unready}
	sync()
	if r, kept := ready(); !kept || !r {
		t.Fatalf("same version: ready %t, kept %t; want the state as it was", r, kept)
	}
	// A new version is looked at.
	unready.ResourceVersion = "2"
	sync()
	if r, kept := ready(); !kept || r {
		t.Fatalf("new version: ready %t, kept %t; want not ready", r, kept)
	}
	// Gone from the list: forgotten.
	list = nil
	sync()
	if _, kept := ready(); kept {
		t.Fatal("a pod no longer listed is still polled")
	}
}
