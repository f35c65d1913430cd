package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// prune deletes children that the topology controls but no longer wants: the
// children of removed components, and a workload or Service whose kind
// changed (a Deployment that became a StatefulSet when it was scaled). It
// runs only after every desired child was applied, so a failed apply never
// removes a working child. A failed deletion backs off like a failed apply.
func (r *ZMQTopologyReconciler) prune(ctx context.Context, s *scope) error {
	t := s.topology
	if len(s.invalid) > 0 || t.Spec.Paused || s.applyErr != nil || len(s.refused) > 0 {
		return nil
	}
	want := make(map[string]bool, len(s.desired))
	for _, obj := range s.desired {
		want[string(obj.Kind)+"/"+obj.Name] = true
	}
	for _, kind := range render.Kinds {
		list := kinds[kind].newList()
		// The list does not wait for the cache to catch up with the
		// writes of every reconcile (read-your-writes consistency would,
		// for a list, wait for all of them): a child written since is
		// desired and never pruned, and one the cache has not seen yet is
		// pruned on the reconcile its watch event triggers. Deletions are
		// conditional on the UID.
		if err := r.List(ctx, list, append(r.childrenOf(t), client.DisableReadYourWritesConsistency)...); err != nil {
			return fmt.Errorf("listing %ss: %w", kind, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			obj := item.(client.Object)
			if want[string(kind)+"/"+obj.GetName()] || !metav1.IsControlledBy(obj, t) || !obj.GetDeletionTimestamp().IsZero() {
				continue
			}
			key := keyOf(t, kind, obj.GetName())
			if f, left := r.failures().waiting(key, t.Generation); f != nil {
				r.report(s, render.Object{Kind: kind, Name: obj.GetName()}, f)
				s.requeue(left)
				return nil
			}
			err := r.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())}, client.PropagationPolicy(metav1.DeletePropagationBackground))
			if client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
				f, period := r.failures().failed(key, t.Generation, fmt.Errorf("deleting %s %s: %w", kind, obj.GetName(), err), false)
				r.report(s, render.Object{Kind: kind, Name: obj.GetName()}, f)
				s.requeue(period)
				r.Recorder.Eventf(t, nil, corev1.EventTypeWarning, "DeleteFailed", "Delete", "%v (retry in %s)", f.err, period)
				return nil
			}
			r.failures().succeeded(key)
			logf.FromContext(ctx).Info("Deleted child", "kind", kind, "name", obj.GetName())
			r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, "Deleted", "Delete", "Deleted %s %s", kind, obj.GetName())
		}
	}
	return nil
}
