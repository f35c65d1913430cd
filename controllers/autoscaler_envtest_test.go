package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
)

// replicaTrace samples a Deployment's spec.replicas every few milliseconds
// and keeps each change with its time.
type replicaTrace struct {
	mu      sync.Mutex
	changes []replicaChange
}

type replicaChange struct {
	at       time.Time
	replicas int32
}

func traceReplicas(ctx context.Context, t *testing.T, key client.ObjectKey) *replicaTrace {
	tr := &replicaTrace{}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var d appsv1.Deployment
			if err := k8sClient.Get(ctx, key, &d); err == nil && d.Spec.Replicas != nil {
				tr.mu.Lock()
				if n := len(tr.changes); n == 0 || tr.changes[n-1].replicas != *d.Spec.Replicas {
					tr.changes = append(tr.changes, replicaChange{time.Now(), *d.Spec.Replicas})
				}
				tr.mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return tr
}

func (tr *replicaTrace) last() replicaChange {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.changes) == 0 {
		return replicaChange{}
	}
	return tr.changes[len(tr.changes)-1]
}

func (tr *replicaTrace) values() []int32 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []int32
	for _, c := range tr.changes {
		out = append(out, c.replicas)
	}
	return out
}

// TestBacklogAutoscaling runs the pipeline with its workers on
// autoscaling.mode Backlog (1 to 5 replicas, 64Ki per replica, at most 2
// more per period, a 2 s scale-down window) and stub agents for a
// ventilator pod and a worker pod. With 600 KiB queued in the ventilator's
// send queue the autoscaler scales the
// Deployment 1 -> 3 -> 5 through its scale subresource, one step per
// period, and the reconciler leaves that count alone; at 5 with the
// backlog unchanged it writes nothing; when the backlog is 0 it waits for
// the window, then scales to 1 in one step, and writes nothing more.
func TestBacklogAutoscaling(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
	worker := z.Component("worker")
	worker.Replicas = ptr.To[int32](1)
	worker.Autoscaling = &zmqv1.AutoscalingSpec{
		Mode: zmqv1.AutoscalingBacklog, MinReplicas: ptr.To[int32](1), MaxReplicas: ptr.To[int32](5),
		TargetBacklogPerReplica: ptr.To(resource.MustParse("64Ki")), StabilizationWindowSeconds: ptr.To[int32](2),
		ScaleUpReplicasPerPeriod: ptr.To[int32](2),
	}
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	key := client.ObjectKey{Namespace: ns, Name: "pipeline-worker"}
	g.Eventually(func() error { return k8sClient.Get(ctx, key, &appsv1.Deployment{}) }).Should(gomega.Succeed())
	trace := traceReplicas(ctx, t, key)

	base := fmt.Sprintf("127.%d.%d.", 1+rand.IntN(250), 1+rand.IntN(250))
	vent := startStubPod(ctx, t, g, z, "ventilator", "pipeline-ventilator-6d4f-a", base+"1", boundDoc(z, "ventilator", "pipeline-ventilator-6d4f-a"))
	w := startStubPod(ctx, t, g, z, "worker", "pipeline-worker-7c9f-0", base+"2", *workerDoc(z, "pipeline-worker-7c9f-0", []int64{100}, ""))
	setBacklog := func(sendQ, recvQ uint64) {
		vent.agent.Update(func(d *agentstatus.Document) { d.Sockets[0].SendQueueBytes = sendQ })
		w.agent.Update(func(d *agentstatus.Document) { d.Sockets[0].ReceiveQueueBytes = recvQ })
	}

	// Idle: min replicas, nothing written.
	time.Sleep(3 * autoscalePeriod)
	g.Expect(trace.values()).To(gomega.Equal([]int32{1}))

	// The whole backlog in one stub, so that no decision sees half of it
	// (Measure's unit tests cover the sum).
	loaded := time.Now()
	setBacklog(600*1024, 0)
	g.Eventually(func() int32 { return trace.last().replicas }).WithTimeout(10 * autoscalePeriod).Should(gomega.Equal(int32(5)))
	t.Logf("1 -> 5 workers in %s (autoscale period %s, poll period %s): %v",
		trace.last().at.Sub(loaded).Round(time.Millisecond), autoscalePeriod, linkPollPeriod, trace.values())
	g.Expect(trace.values()).To(gomega.Equal([]int32{1, 3, 5}), "one step of at most 2 replicas per period")
	scaleWrites := managerWriteLog.to("/apis/apps/v1/namespaces/"+ns+"/deployments/pipeline-worker/scale", loaded)
	g.Expect(scaleWrites).To(gomega.HaveLen(2))

	// Steady at max: the reconciles the scaling caused end (the workload's
	// changes reach the topology a child event batch later), then nothing
	// is written over 5 periods, and the count stays.
	settle := 2*autoscalePeriod + DefaultChildEventBatch
	time.Sleep(settle)
	since := time.Now()
	time.Sleep(5 * autoscalePeriod)
	if writes := writesIn(ns, since); len(writes) != 0 {
		t.Errorf("steady under load: %d writes over 5 periods: %+v", len(writes), writes)
	}
	g.Expect(trace.last().replicas).To(gomega.Equal(int32(5)))

	// The load stops: the window holds 5 for 2 s, then one step to 1.
	idle := time.Now()
	setBacklog(0, 0)
	g.Eventually(func() int32 { return trace.last().replicas }).WithTimeout(2*time.Second + 10*autoscalePeriod).Should(gomega.Equal(int32(1)))
	took := trace.last().at.Sub(idle)
	t.Logf("5 -> 1 worker %s after the backlog went to 0 (window 2s): %v", took.Round(time.Millisecond), trace.values())
	// The last high recommendation came at most a period (and a poll)
	// before the backlog fell.
	if earliest := 2*time.Second - autoscalePeriod - linkPollPeriod; took < earliest {
		t.Errorf("scaled down %s after the load stopped, inside the 2s stabilization window", took)
	}
	g.Expect(trace.values()).To(gomega.Equal([]int32{1, 3, 5, 1}))

	// Steady at min: nothing written.
	time.Sleep(settle)
	since = time.Now()
	time.Sleep(5 * autoscalePeriod)
	if writes := writesIn(ns, since); len(writes) != 0 {
		t.Errorf("steady at min: %d writes over 5 periods: %+v", len(writes), writes)
	}

	// Each change has its event on the topology.
	g.Eventually(func(g gomega.Gomega) {
		var list eventsv1.EventList
		g.Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(gomega.Succeed())
		var notes []string
		for _, e := range list.Items {
			if e.Reason == ReasonScaled && e.Regarding.Name == "pipeline" {
				notes = append(notes, e.Note)
			}
		}
		g.Expect(notes).To(gomega.ContainElements(
			gomega.HavePrefix("scaled worker from 1 to 3 replicas: backlog 614400 bytes, target 65536 bytes per replica"),
			gomega.HavePrefix("scaled worker from 5 to 1 replicas: backlog 0 bytes"),
		))
	}).Should(gomega.Succeed())

	// Backlog autoscaling off: the operator owns replicas again and sets the
	// component's count.
	g.Eventually(func() error {
		var cur zmqv1.ZMQTopology
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(z), &cur); err != nil {
			return err
		}
		cur.Component("worker").Autoscaling = nil
		cur.Component("worker").Replicas = ptr.To[int32](2)
		return k8sClient.Update(ctx, &cur)
	}).Should(gomega.Succeed())
	g.Eventually(func() int32 { return trace.last().replicas }).Should(gomega.Equal(int32(2)))
	setBacklog(600*1024, 100*1024)
	time.Sleep(3 * autoscalePeriod)
	g.Expect(trace.last().replicas).To(gomega.Equal(int32(2)), "the autoscaler forgot the component")
}
