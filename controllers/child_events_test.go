package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// childOf is a Deployment whose controller is topology ns/name.
func childOf(ns, name string, generation int64) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: name + "-a", Generation: generation,
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: zmqv1.GroupVersion.String(), Kind: "ZMQTopology", Name: name,
			UID: types.UID("uid-" + name), Controller: ptr.To(true),
		}},
	}}
}

func TestChildEventsBatchAChildsChanges(t *testing.T) {
	mapper := topologyMapper()
	ctx := context.Background()
	want := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "t"}}

	const batch = 300 * time.Millisecond
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	h := childEvents(childScheme(t), mapper, batch, nil)
	start := time.Now()
	// A Deployment's status changing three times, then the child deleted.
	for gen := int64(1); gen <= 3; gen++ {
		h.Update(ctx, event.UpdateEvent{ObjectOld: childOf("ns", "t", gen), ObjectNew: childOf("ns", "t", gen+1)}, q)
	}
	h.Delete(ctx, event.DeleteEvent{Object: childOf("ns", "t", 4)}, q)
	if n := q.Len(); n != 0 && time.Since(start) < batch {
		t.Fatalf("%d requests queued at once; want them %s later", n, batch)
	}
	got, _ := q.Get() // blocks until the batch is over
	if got != want {
		t.Fatalf("queued %v, want %v", got, want)
	}
	if waited := time.Since(start); waited < batch {
		t.Fatalf("the topology was queued after %s, before the batch (%s) was over", waited, batch)
	}
	q.Done(got)
	time.Sleep(batch)
	if n := q.Len(); n != 0 {
		t.Fatalf("four changes within the batch queued %d more requests; want one in all", n)
	}

	// No batch: at once.
	q0 := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q0.ShutDown()
	childEvents(childScheme(t), mapper, 0, nil).Update(ctx, event.UpdateEvent{ObjectOld: childOf("ns", "t", 1), ObjectNew: childOf("ns", "t", 2)}, q0)
	if n := q0.Len(); n != 1 {
		t.Fatalf("without a batch %d requests queued at once; want 1", n)
	}
}

func TestChildChangedIgnoresCreations(t *testing.T) {
	d := childOf("ns", "t", 1)
	if childChanged.Create(event.CreateEvent{Object: d}) {
		t.Error("a child's creation reconciles its topology; the operator's own write already does")
	}
	if !childChanged.Update(event.UpdateEvent{ObjectOld: d, ObjectNew: childOf("ns", "t", 2)}) {
		t.Error("a child's change is ignored")
	}
	if !childChanged.Delete(event.DeleteEvent{Object: d}) {
		t.Error("a child's deletion is ignored")
	}
}

// topologyMapper knows ZMQTopology as a namespaced kind, all that
// EnqueueRequestForOwner asks of a RESTMapper.
func topologyMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(zmqv1.GroupVersion.WithKind("ZMQTopology"), meta.RESTScopeNamespace)
	return m
}

func childScheme(t *testing.T) *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := zmqv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestChildEventsReportTheLastWorkloadToSettleAtOnce(t *testing.T) {
	mapper := topologyMapper()
	ctx := context.Background()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	others := false // whether the topology's other workloads have settled
	var asked []string
	h := childEvents(childScheme(t), mapper, time.Hour, func(_ context.Context, ref *metav1.OwnerReference, ns string) bool {
		asked = append(asked, ns+"/"+ref.Name)
		return others
	})

	starting := childOf("ns", "t", 1)
	starting.Spec.Replicas = ptr.To(int32(5))
	starting.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 5, UpdatedReplicas: 5, ReadyReplicas: 4, AvailableReplicas: 4}
	ready := starting.DeepCopy()
	ready.Status.ReadyReplicas, ready.Status.AvailableReplicas = 5, 5

	// One more replica ready, not all: batched, and nothing asked.
	more := starting.DeepCopy()
	more.Status.ReadyReplicas = 3
	h.Update(ctx, event.UpdateEvent{ObjectOld: more, ObjectNew: starting}, q)
	if n := q.Len(); n != 0 || len(asked) != 0 {
		t.Fatalf("a step of a rollout was queued at once (%d) or asked about its siblings (%v)", n, asked)
	}
	// The last replica ready while another workload is still starting:
	// the topology is not Ready yet, so batched.
	h.Update(ctx, event.UpdateEvent{ObjectOld: starting, ObjectNew: ready}, q)
	if n := q.Len(); n != 0 {
		t.Fatalf("a workload that settled before its siblings was queued at once (%d)", n)
	}
	if len(asked) != 1 || asked[0] != "ns/t" {
		t.Fatalf("asked about %v, want [ns/t]", asked)
	}
	// The last workload of the topology to settle: at once.
	others = true
	h.Update(ctx, event.UpdateEvent{ObjectOld: starting, ObjectNew: ready}, q)
	if n := q.Len(); n != 1 {
		t.Fatalf("the last workload to settle queued %d requests at once; want 1", n)
	}
	got, _ := q.Get()
	q.Done(got)
	// Already settled (a resync, a label edit): batched again.
	h.Update(ctx, event.UpdateEvent{ObjectOld: ready, ObjectNew: ready.DeepCopy()}, q)
	if n := q.Len(); n != 0 {
		t.Fatalf("a change of a settled workload was queued at once (%d)", n)
	}
	if len(asked) != 2 {
		t.Fatalf("asked about siblings %d times; want 2, only when a workload has just settled", len(asked))
	}
}

// The topology that just became Ready goes ahead of those already waiting
// in controller-runtime's priority queue, the manager's default, even when
// an earlier workload's settling had it waiting for the batch.
func TestChildEventsReadyGoesAheadOfTheQueue(t *testing.T) {
	ctx := context.Background()
	q := priorityqueue.New[reconcile.Request]("child-events-test")
	defer q.ShutDown()
	for i := range 5 {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("new-%d", i)}})
	}
	last := false
	h := childEvents(childScheme(t), topologyMapper(), time.Hour, func(context.Context, *metav1.OwnerReference, string) bool { return last })
	old := childOf("ns", "t", 1)
	old.Spec.Replicas = ptr.To(int32(1))
	old.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1}
	ready := old.DeepCopy()
	ready.Status.ReadyReplicas, ready.Status.AvailableReplicas = 1, 1
	h.Update(ctx, event.UpdateEvent{ObjectOld: old, ObjectNew: ready}, q) // a first workload: batched
	last = true
	h.Update(ctx, event.UpdateEvent{ObjectOld: old, ObjectNew: ready}, q) // the last one
	got := make(chan reconcile.Request, 1)
	go func() {
		r, _ := q.Get()
		got <- r
	}()
	want := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "t"}}
	select {
	case r := <-got:
		if r != want {
			t.Fatalf("first out of the queue: %v, want %v ahead of the 5 queued before it", r, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing came out of the queue")
	}
}

// lastToSettle reads the topology and its workloads as the API server (here)
// or the cache has them: true only once every component's workload, a
// Deployment or a StatefulSet, is settled, and never for a controller
// reference to another topology or kind.
func TestLastToSettle(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
	// A binding component of two replicas runs as a StatefulSet.
	for i := range z.Spec.Components {
		if c := &z.Spec.Components[i]; len(c.Sockets) == 1 && c.Sockets[0].Bind != nil {
			c.Replicas = ptr.To(int32(2))
			break
		}
	}
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	kinds := map[render.Kind]int{}
	for i := range z.Spec.Components {
		c := &z.Spec.Components[i]
		kinds[render.WorkloadKind(c)]++
		var w client.Object = &appsv1.Deployment{}
		if render.WorkloadKind(c) == render.KindStatefulSet {
			w = &appsv1.StatefulSet{}
		}
		g.Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: render.ObjectName(z, c)}, w)
		}).Should(gomega.Succeed())
	}
	if kinds[render.KindStatefulSet] == 0 || kinds[render.KindDeployment] == 0 {
		t.Fatalf("workload kinds %v: want both Deployments and a StatefulSet", kinds)
	}
	r := &ZMQTopologyReconciler{Client: k8sClient}
	ref := &metav1.OwnerReference{APIVersion: zmqv1.GroupVersion.String(), Kind: "ZMQTopology", Name: z.Name, UID: z.UID}
	for i := range z.Spec.Components {
		if r.lastToSettle(ctx, ref, ns) {
			t.Fatalf("last to settle with %d of %d components settled", i, len(z.Spec.Components))
		}
		c := &z.Spec.Components[i]
		if render.PerReplica(c) {
			markStatefulSetReady(ctx, g, ns, render.ObjectName(z, c), render.Replicas(c))
		} else {
			markDeploymentReady(ctx, g, ns, render.ObjectName(z, c), render.Replicas(c))
		}
	}
	if !r.lastToSettle(ctx, ref, ns) {
		t.Fatal("not last to settle with every component settled")
	}
	otherVersion := *ref
	otherVersion.APIVersion = zmqv1.GroupVersion.Group + "/v1"
	if !r.lastToSettle(ctx, &otherVersion, ns) {
		t.Fatal("a reference through another version of the API is not the same topology")
	}
	for name, other := range map[string]metav1.OwnerReference{
		"another topology of that name": {APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: "another-uid"},
		"another kind":                  {APIVersion: "apps/v1", Kind: "ZMQTopology", Name: ref.Name, UID: ref.UID},
		"another group's kind":          {APIVersion: ref.APIVersion, Kind: "Deployment", Name: ref.Name, UID: ref.UID},
	} {
		if r.lastToSettle(ctx, &other, ns) {
			t.Errorf("last to settle for a reference to %s", name)
		}
	}
}
