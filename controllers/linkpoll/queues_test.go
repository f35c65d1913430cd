package linkpoll

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
)

// TestPollerQueues: queue sizes reach Queues at the next poll, and their
// changing sends no event (no reconcile per poll); a silent pod's queues
// turn not Fresh.
func TestPollerQueues(t *testing.T) {
	const period = 100 * time.Millisecond
	key := types.NamespacedName{Namespace: "a", Name: "t"}
	w := startStub(t, "127.0.0.25")
	w.Set(workerDocument("t-worker-0", 50, ""))
	src := &pods{}
	src.set(runningPod("a", "t", "worker", "t-worker-0", w.Addr))
	p, _ := startPoller(t, src.source, Options{Period: period, Tick: 10 * time.Millisecond, Timeout: 50 * time.Millisecond})
	for {
		nextEvent(t, p, 2*time.Second)
		if r := p.Report(key); r != nil && answered(r.Pods["t-worker-0"]) {
			break
		}
	}
	for i := uint64(1); i <= 3; i++ {
		w.Update(func(d *agentstatus.Document) {
			d.Sockets[0].ReceiveQueueBytes = 1000 * i
			d.Sockets[0].SendQueueBytes = i
		})
		waitFor(t, 2*time.Second, func() bool {
			q := p.Queues(key)
			return len(q) == 1 && len(q[0].Sockets) == 2 && q[0].Sockets[0].ReceiveQueueBytes == 1000*i
		})
	}
	noEvent(t, p, 2*period)
	q := p.Queues(key)[0]
	want := SocketQueues{Name: "tasks", Type: "PULL", Connections: 1, SendQueueBytes: 3, ReceiveQueueBytes: 3000}
	if q.Pod != "t-worker-0" || q.Component != "worker" || !q.Fresh || q.Polled.IsZero() || q.Sockets[0] != want ||
		!q.Sockets[1].Bind || q.Sockets[1].Name != "metrics" {
		t.Errorf("queues %+v", q)
	}
	if p.Queues(types.NamespacedName{Namespace: "a", Name: "other"}) != nil {
		t.Error("queues of a topology without pods")
	}

	w.Delay(time.Second)
	waitFor(t, 10*period+time.Second, func() bool { return !p.Queues(key)[0].Fresh })
}

func waitFor(t *testing.T, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
