package controllers

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
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
	h := childEvents(childScheme(t), mapper, batch)
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
	childEvents(childScheme(t), mapper, 0).Update(ctx, event.UpdateEvent{ObjectOld: childOf("ns", "t", 1), ObjectNew: childOf("ns", "t", 2)}, q0)
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

func TestChildEventsReportASettledWorkloadAtOnce(t *testing.T) {
	mapper := topologyMapper()
	ctx := context.Background()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	h := childEvents(childScheme(t), mapper, time.Hour)

	starting := childOf("ns", "t", 1)
	starting.Spec.Replicas = ptr.To(int32(5))
	starting.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 5, UpdatedReplicas: 5, ReadyReplicas: 4, AvailableReplicas: 4}
	ready := starting.DeepCopy()
	ready.Status.ReadyReplicas, ready.Status.AvailableReplicas = 5, 5

	// One more replica ready, not all: batched.
	more := starting.DeepCopy()
	more.Status.ReadyReplicas = 3
	h.Update(ctx, event.UpdateEvent{ObjectOld: more, ObjectNew: starting}, q)
	if n := q.Len(); n != 0 {
		t.Fatalf("a step of a rollout was queued at once (%d)", n)
	}
	// The last replica ready: at once.
	h.Update(ctx, event.UpdateEvent{ObjectOld: starting, ObjectNew: ready}, q)
	if n := q.Len(); n != 1 {
		t.Fatalf("a workload that just became ready queued %d requests at once; want 1", n)
	}
	got, _ := q.Get()
	q.Done(got)
	// Already settled (a resync, a label edit): batched again.
	h.Update(ctx, event.UpdateEvent{ObjectOld: ready, ObjectNew: ready.DeepCopy()}, q)
	if n := q.Len(); n != 0 {
		t.Fatalf("a change of a settled workload was queued at once (%d)", n)
	}
}
