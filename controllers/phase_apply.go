package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// apply writes the desired children with server-side apply, all or nothing:
//
//  1. preflight refuses, without a request, what the API server would
//     refuse for certain (two components rendering one object, objects too
//     large to store);
//  2. only children that differ from what the operator applied last are
//     written (changedetect.go: the hash of the last applied object and the
//     digest of the fields the operator still owns, read from the cache),
//     so a no-op reconcile sends nothing (not even a dry run), while an
//     edit by someone else (which takes those fields from our field
//     manager) or a deleted child is written back;
//  3. a child still in its failure backoff period holds back every write;
//  4. when several children change, they are dry-run first (same field
//     owner and force as the real apply); if the API server refuses any,
//     none is written and the refusals are reported as InvalidSpec at the
//     spec fields they come from. A single change needs no dry run: its
//     write is just as atomic; while the topology is being created, only
//     its workloads are (apply_dryrun.go);
//  5. then each is written in two stages (apply_parallel.go): every child
//     that starts no pod at once, then, unless one of those failed, the
//     workloads at once; the dry runs go at once too.
//
// A failed child is not tried again before its backoff period ends.
func (r *ZMQTopologyReconciler) apply(ctx context.Context, s *scope) error {
	t := s.topology
	if len(s.invalid) > 0 || t.Spec.Paused {
		return nil
	}
	if errs := preflight(t, s.desired, r.Render.ClusterDomain); len(errs) > 0 {
		s.refused, s.stalled = errs, true
		if !alreadyReportedInvalid(s.original) {
			r.Recorder.Eventf(t, nil, corev1.EventTypeWarning, zmqv1.ReasonInvalidSpec, "Apply", "%s", invalidMessage(errs))
		}
		return nil
	}
	changes, err := r.changes(ctx, s)
	if err != nil || len(changes) == 0 {
		return err
	}
	if r.holdBack(s, changes) {
		return nil
	}
	for _, c := range changes {
		if c.err != nil {
			continue // never written (a foreign object's name)
		}
		if err := r.fields.stampAppliedFields(r.Scheme(), c.obj); err != nil {
			return fmt.Errorf("stamping %s %s: %w", c.obj.Kind, c.obj.Name, err)
		}
	}
	plan := dryRunPlan(changes, s.desired)
	var dry []change
	for i, c := range changes {
		if plan[i] {
			dry = append(dry, c)
		}
	}
	if len(dry) > 0 {
		refused := false
		errs := inParallel(ctx, dry, func(ctx context.Context, _ int, c change) error { return r.dryRun(ctx, c.obj) })
		for i, c := range dry {
			err := errs[i]
			if namespaceTerminating(ctx, err) {
				return nil
			}
			if err != nil {
				r.childFailed(ctx, s, c, err, true)
				refused = true
			}
		}
		if refused {
			return nil
		}
	}
	dried := make(map[childKey]bool, len(dry))
	for _, c := range dry {
		dried[c.key] = true
	}
	// One event per kind of write ("Created", "Updated") names every child
	// written, rather than one event per child: the event recorder would
	// fold those into one series anyway, keeping only the first child's
	// name.
	written := map[string][]string{}
	defer func() {
		for _, op := range []string{opCreated, opUpdated} {
			if names := written[op]; len(names) > 0 {
				r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, op, op, "%s %s", op, strings.Join(names, ", "))
			}
		}
	}()
	for _, group := range byStage(changes) {
		generations := make([]*int64, len(group))
		errs := inParallel(ctx, group, func(ctx context.Context, i int, c change) error {
			var err error
			generations[i], err = r.write(ctx, s, c)
			return err
		})
		failed := false
		for i, c := range group {
			err := errs[i]
			if namespaceTerminating(ctx, err) {
				return nil
			}
			if err != nil {
				// A change that was not dry-run (see dryRunPlan) changed
				// nothing that runs before its refusal: the spec's.
				// Otherwise the dry run accepted it and other children may
				// have been written: not a refusal of the spec.
				r.childFailed(ctx, s, c, err, !dried[c.key])
				failed = true
				continue
			}
			s.recordApplied(c.obj, generations[i])
			r.failures().succeeded(c.key)
			logf.FromContext(ctx).Info(c.op+" child", "kind", c.obj.Kind, "name", c.obj.Name)
			written[c.op] = append(written[c.op], string(c.obj.Kind)+" "+c.obj.Name)
		}
		if failed {
			// The workloads wait for the retry.
			return nil
		}
	}
	return nil
}

// The operations of a change, as the log and the events name them.
const (
	opCreated = "Created"
	opUpdated = "Updated"
)

// change is a desired child that must be written.
type change struct {
	obj render.Object
	key childKey
	op  string // opCreated or opUpdated, for the log and the event
	// err is set when the child cannot be written at all: its name is
	// taken by an object the topology does not control.
	err error
	// handover is set on a workload whose spec.replicas the operator must
	// give up in this write (see render/replicas.go): the count to hand
	// over to render.ReplicasHandoverManager. create says the workload does
	// not exist yet, so it is first created with that count.
	handover *int32
	create   bool
}

// changes lists the desired children that are missing or differ from what
// the operator owns.
func (r *ZMQTopologyReconciler) changes(ctx context.Context, s *scope) ([]change, error) {
	t := s.topology
	var out []change
	for _, obj := range s.desired {
		c := change{obj: obj, key: keyOf(t, obj.Kind, obj.Name), op: opUpdated}
		ops := kinds[obj.Kind]
		key := client.ObjectKey{Namespace: t.Namespace, Name: obj.Name}
		existing := ops.newObject()
		err := r.Get(ctx, key, existing)
		if apierrors.IsNotFound(err) && r.Unlabelled != nil {
			// The cache only holds labelled children; make sure the name is
			// not taken by an object of someone else before applying over
			// it, from the cache of unlabelled objects.
			other := ops.metadata()
			switch err := r.Unlabelled.Get(ctx, key, other); {
			case err == nil && metav1.IsControlledBy(other, t):
				// Ours, with its label removed: the apply restores it.
				out = append(out, c)
				continue
			case err == nil:
				c.err = &foreignObjectError{kind: obj.Kind, name: obj.Name}
				out = append(out, c)
				continue
			case !apierrors.IsNotFound(err):
				return nil, fmt.Errorf("reading %s %s: %w", obj.Kind, obj.Name, err)
			}
		}
		switch {
		case apierrors.IsNotFound(err):
			c.op = opCreated
			c.handover, c.create = obj.InitialReplicas, obj.InitialReplicas != nil
		case err != nil:
			return nil, fmt.Errorf("reading %s %s: %w", obj.Kind, obj.Name, err)
		case !metav1.IsControlledBy(existing, t):
			c.err = &foreignObjectError{kind: obj.Kind, name: obj.Name}
		default:
			same, owned, err := unchanged(existing, obj)
			if err != nil {
				return nil, fmt.Errorf("comparing %s %s: %w", obj.Kind, obj.Name, err)
			}
			if obj.InitialReplicas != nil {
				c.handover = replicasToHandOver(owned, existing)
			}
			if same {
				r.failures().succeeded(c.key)
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// holdBack reports every change whose child is still in its backoff
// period, with the error of its last attempt, and says whether there is
// one: then nothing is written, since that child cannot be checked.
func (r *ZMQTopologyReconciler) holdBack(s *scope, changes []change) bool {
	held := false
	for _, c := range changes {
		f, left := r.failures().waiting(c.key, s.topology.Generation)
		if f == nil {
			continue
		}
		held = true
		r.report(s, c.obj, f)
		s.requeue(left)
	}
	return held
}

// childFailed records a failed attempt at a child: its backoff, status,
// the log and an event. allOrNothing says that nothing was written in this
// reconcile, so a refusal is the spec's (InvalidSpec), not a half-applied
// change (ApplyFailed).
func (r *ZMQTopologyReconciler) childFailed(ctx context.Context, s *scope, c change, err error, allOrNothing bool) {
	refused := allOrNothing && isRefusal(err)
	f, period := r.failures().failed(c.key, s.topology.Generation, fmt.Errorf("applying %s %s: %w", c.obj.Kind, c.obj.Name, err), refused)
	r.report(s, c.obj, f)
	s.requeue(period)
	logf.FromContext(ctx).Info("child not written", "kind", c.obj.Kind, "name", c.obj.Name,
		"refused", refused, "failures", f.failures, "retryIn", period.String(), "error", err.Error())
	if refused {
		r.Recorder.Eventf(s.topology, nil, corev1.EventTypeWarning, zmqv1.ReasonInvalidSpec, "Apply", "%s",
			invalidMessage(refusalErrors(s.topology, c.obj, err)))
	} else {
		r.Recorder.Eventf(s.topology, nil, corev1.EventTypeWarning, zmqv1.ReasonApplyFailed, "Apply",
			"applying %s %s: %v (retry in %s)", c.obj.Kind, c.obj.Name, err, period)
	}
}

// report puts a child's failure into the scope: a refusal as errors on the
// spec, anything else as the apply error (which names the child).
func (r *ZMQTopologyReconciler) report(s *scope, obj render.Object, f *childFailure) {
	if f.refused {
		s.refused = append(s.refused, refusalErrors(s.topology, obj, f.err)...)
	} else if s.applyErr == nil {
		s.applyErr = f.err
	}
	if r.failures().persistent(f) {
		s.stalled = true
	}
}

// dryRun asks the API server whether it would accept the child, with the
// same field owner and force as the real apply. The request carries a copy:
// the client decodes the answer into what it sends.
func (r *ZMQTopologyReconciler) dryRun(ctx context.Context, obj render.Object) error {
	m, err := toJSONMap(obj.Apply)
	if err != nil {
		return fmt.Errorf("encoding %s %s: %w", obj.Kind, obj.Name, err)
	}
	return r.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: m}),
		client.DryRunAll, client.FieldOwner(render.ManagedBy), client.ForceOwnership,
		// A dry run stores nothing, so there is no write for reads to wait for.
		client.DisableReadYourWritesConsistency)
}

// write applies the child and returns the generation the API server gave
// a workload (nil for other kinds). A workload whose replicas the operator
// gives up in this write is first created with its initial count (when
// new) and has that count handed over. It is safe to call for several
// children at once.
func (r *ZMQTopologyReconciler) write(ctx context.Context, s *scope, c change) (*int64, error) {
	obj := c.obj
	if c.create {
		if err := r.createWithReplicas(ctx, obj, *c.handover); err != nil {
			return nil, err
		}
	}
	if c.handover != nil {
		if err := r.handOverReplicas(ctx, s.topology.Namespace, obj, *c.handover); err != nil {
			return nil, err
		}
	}
	if err := r.Apply(ctx, obj.Apply, client.FieldOwner(render.ManagedBy), client.ForceOwnership); err != nil {
		return nil, err
	}
	// The client decoded the API server's answer into obj.Apply.
	switch a := obj.Apply.(type) {
	case *appsv1ac.DeploymentApplyConfiguration:
		return a.Generation, nil
	case *appsv1ac.StatefulSetApplyConfiguration:
		return a.Generation, nil
	}
	return nil, nil
}

// recordApplied records the generation of a workload just written, against
// which observe detects a stale cache.
func (s *scope) recordApplied(obj render.Object, generation *int64) {
	if generation == nil {
		return
	}
	if s.applied == nil {
		s.applied = map[string]int64{}
	}
	s.applied[obj.Component] = *generation
}

// namespaceTerminating is true for the error the API server returns when
// the namespace is going away, with the topology in it: nothing to repair
// and nobody to tell.
func namespaceTerminating(ctx context.Context, err error) bool {
	if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return false
	}
	logf.FromContext(ctx).V(1).Info("namespace terminating; not applying children")
	return true
}

// failures is the reconciler's child failure backoff, created on first use.
func (r *ZMQTopologyReconciler) failures() *childBackoff {
	r.backoffOnce.Do(func() {
		if r.backoff == nil {
			r.backoff = newChildBackoff(time.Now)
		}
	})
	return r.backoff
}

func keyOf(t *zmqv1.ZMQTopology, kind render.Kind, name string) childKey {
	return childKey{topology: types.NamespacedName{Namespace: t.Namespace, Name: t.Name}, kind: kind, name: name}
}
