package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/workqueue"
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

// childEvents enqueues the topology that is the controller owner of a
// changed child, batch after the change (a workload that has just become
// ready at once, see Update), so that the changes within batch
// of one another cost one reconcile (and at most one status patch) rather
// than one each: a Deployment's status changes several times while its
// replicas start, and the topology's status reports only where they stand
// when it is read. The work queue keeps an item once, at the earliest time
// it was asked for. Zero batch enqueues at once.
//
// A child's creation is not an event (childChanged): the operator created it
// and reconciles its topology after that write anyway; at a restart the
// topologies' own creation events reconcile every one of them.
func childEvents(scheme *runtime.Scheme, mapper meta.RESTMapper, batch time.Duration) handler.EventHandler {
	owner := handler.EnqueueRequestForOwner(scheme, mapper, &zmqv1.ZMQTopology{}, handler.OnlyControllerOwner())
	if batch <= 0 {
		return owner
	}
	return batched{owner: owner, batch: batch}
}

// childChanged passes the events of children that childEvents acts on:
// every update, deletion and generic event, and no creation.
var childChanged = predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}

// batched delays what its handler enqueues by batch.
type batched struct {
	owner handler.EventHandler
	batch time.Duration
}

// The work queue's type, as controller-runtime's handlers take it.
type requestQueue = workqueue.TypedRateLimitingInterface[reconcile.Request]

func (b batched) Create(ctx context.Context, e event.CreateEvent, q requestQueue) {
	b.owner.Create(ctx, e, delayedQueue{q, b.batch})
}

// Update enqueues at once a workload that has just settled (settled: rolled
// out, every replica ready), the change that turns a component Ready, so
// that the topology's readiness is reported without the batch's delay;
// the steps before it are batched.
func (b batched) Update(ctx context.Context, e event.UpdateEvent, q requestQueue) {
	if settled(e.ObjectNew) && !settled(e.ObjectOld) {
		b.owner.Update(ctx, e, q)
		return
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
