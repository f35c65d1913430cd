package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// DefaultChildEventBatch is how long the changes of a topology's children
// (a workload's replicas becoming ready one by one, an edit by someone
// else, a deletion) are gathered before the topology is reconciled once for
// all of them (see childEvents).
const DefaultChildEventBatch = time.Second

// readyPriority is the work-queue priority of a topology whose last
// workload has just settled (controller-runtime's priority queue; others
// are queued at 0, and the initial list's events at handler.LowPriority).
const readyPriority = 10

// childEvents enqueues the topology that is the controller owner of a
// changed child, batch after the change, so that the changes within batch
// of one another cost one reconcile (and at most one status patch) rather
// than one each: a Deployment's status changes several times while its
// replicas start, and the topology's status reports only where they stand
// when it is read. The work queue keeps an item once, at the earliest time
// it was asked for. Zero batch enqueues at once.
//
// The exception is the change that makes the topology Ready: a workload
// that has just settled while every other workload of its topology has too
// (lastToSettle, given the topology's controller reference) is enqueued at
// once and ahead of the topologies waiting in the queue (readyPriority), so
// that readiness is reported without the batch's delay and without waiting
// behind hundreds of topologies being created.
//
// A child's creation is not an event (childChanged): the operator created it
// and reconciles its topology after that write anyway; at a restart the
// topologies' own creation events reconcile every one of them.
func childEvents(scheme *runtime.Scheme, mapper meta.RESTMapper, batch time.Duration, lastToSettle func(context.Context, *metav1.OwnerReference, string) bool) handler.EventHandler {
	owner := handler.EnqueueRequestForOwner(scheme, mapper, &zmqv1.ZMQTopology{}, handler.OnlyControllerOwner())
	if batch <= 0 {
		return owner
	}
	return batched{owner: owner, batch: batch, lastToSettle: lastToSettle}
}

// childChanged passes the events of children that childEvents acts on:
// every update, deletion and generic event, and no creation.
var childChanged = predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}

// batched delays what its handler enqueues by batch.
type batched struct {
	owner handler.EventHandler
	batch time.Duration
	// lastToSettle reports whether every workload of the topology of a
	// controller reference in a namespace is settled.
	lastToSettle func(ctx context.Context, owner *metav1.OwnerReference, namespace string) bool
}

// The work queue's type, as controller-runtime's handlers take it.
type requestQueue = workqueue.TypedRateLimitingInterface[reconcile.Request]

func (b batched) Create(ctx context.Context, e event.CreateEvent, q requestQueue) {
	b.owner.Create(ctx, e, delayedQueue{q, b.batch})
}

// Update enqueues at once, ahead of the queue, a workload that has just
// settled (rolled out, every replica ready) when it is the last of its
// topology's workloads to do so: the change that makes the topology Ready.
// Every other change is batched, the earlier workloads' settling too.
func (b batched) Update(ctx context.Context, e event.UpdateEvent, q requestQueue) {
	if settled(e.ObjectNew) && !settled(e.ObjectOld) {
		if ref := metav1.GetControllerOf(e.ObjectNew); ref != nil && b.lastToSettle != nil &&
			b.lastToSettle(ctx, ref, e.ObjectNew.GetNamespace()) {
			b.owner.Update(ctx, e, urgentQueue{q})
			return
		}
	}
	b.owner.Update(ctx, e, delayedQueue{q, b.batch})
}

func (b batched) Delete(ctx context.Context, e event.DeleteEvent, q requestQueue) {
	b.owner.Delete(ctx, e, delayedQueue{q, b.batch})
}

func (b batched) Generic(ctx context.Context, e event.GenericEvent, q requestQueue) {
	b.owner.Generic(ctx, e, delayedQueue{q, b.batch})
}

// delayedQueue turns Add into AddAfter(after).
type delayedQueue struct {
	requestQueue
	after time.Duration
}

func (d delayedQueue) Add(r reconcile.Request) { d.AddAfter(r, d.after) }

// urgentQueue turns Add into an add at readyPriority when the queue is
// controller-runtime's priority queue (the default), else a plain Add.
type urgentQueue struct {
	requestQueue
}

func (u urgentQueue) Add(r reconcile.Request) {
	if pq, ok := u.requestQueue.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(readyPriority)}, r)
		return
	}
	u.requestQueue.Add(r)
}

// lastToSettle reports whether every component of the topology that ref
// names in namespace has a settled workload (read from the cache, as the
// observe phase reads them). It is false when the topology or a workload
// cannot be read, or is not the one ref names: the change is then batched
// like any other.
func (r *ZMQTopologyReconciler) lastToSettle(ctx context.Context, ref *metav1.OwnerReference, namespace string) bool {
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || ref.Kind != "ZMQTopology" || gv.Group != zmqv1.GroupVersion.Group {
		return false
	}
	// The handler runs on the informer's goroutine: read the cache as it
	// is, never waiting for it to catch up with the operator's own writes
	// (a stale read only batches the change).
	t := &zmqv1.ZMQTopology{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, t, client.DisableReadYourWritesConsistency); err != nil || t.UID != ref.UID {
		return false
	}
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		if w, err := readWorkload(ctx, r, t, c, client.DisableReadYourWritesConsistency); err != nil || !w.settled() {
			return false
		}
	}
	return true
}
