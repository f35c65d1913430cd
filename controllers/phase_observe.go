package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// observe reads each component's workload. It runs when the spec is
// invalid too, so status keeps reporting what runs. A workload read at an
// older generation than this reconcile's apply returned is a stale cache:
// it counts as not rolled out, and the topology is reconciled again soon.
func (r *ZMQTopologyReconciler) observe(ctx context.Context, s *scope) error {
	t := s.topology
	s.workloads = make(map[string]workload, len(t.Spec.Components))
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		w, err := readWorkload(ctx, r, t, c)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("reading workload of component %s: %w", c.Name, err)
		}
		w.appliedGeneration = s.applied[c.Name]
		if w.generation < w.appliedGeneration {
			s.requeue(staleCacheRequeue)
		}
		s.workloads[c.Name] = w
	}
	return nil
}

// staleCacheRequeue is how soon a topology is reconciled again when the
// cache has not caught up with the operator's own write. The watch event
// of that write normally comes first.
const staleCacheRequeue = time.Second

// computeStatus fills the topology's status from the scope. When the spec is
// invalid, the component and link lists keep describing what runs (the
// previous status) and only the conditions change.
func computeStatus(s *scope, clusterDomain string) {
	t := s.topology
	in := conditionInputs{
		generation:  t.Generation,
		invalid:     append(append(field.ErrorList(nil), s.invalid...), s.refused...),
		applyErr:    s.applyErr,
		internalErr: s.internalErr,
		stalled:     s.stalled,
		paused:      t.Spec.Paused,
	}
	if len(in.invalid) == 0 && s.workloads != nil {
		byName := make(map[string]observed, len(t.Spec.Components))
		t.Status.Components = t.Status.Components[:0]
		for i := range t.Spec.Components {
			c := &t.Spec.Components[i]
			var w *workload
			if wl, ok := s.workloads[c.Name]; ok {
				w = &wl
			}
			o := observeComponent(t, c, w, clusterDomain)
			byName[c.Name] = o
			in.components = append(in.components, o)
			t.Status.Components = append(t.Status.Components, o.status)
		}
		in.links, in.downLinks = linkStatuses(t, byName, s.links, clusterDomain)
		t.Status.Links = in.links
		t.Status.ComponentsReady = ready(t.Status.Components, func(c zmqv1.ComponentStatus) bool { return c.Ready })
		t.Status.LinksReady = ready(t.Status.Links, func(l zmqv1.LinkStatus) bool { return l.Ready })
		t.Status.Patterns = patterns(t.Status.Links)
	}
	setReadyCondition(&t.Status.Conditions, in)
	setProgressingCondition(&t.Status.Conditions, in)
	setDegradedCondition(&t.Status.Conditions, in)
	setReconcilingCondition(&t.Status.Conditions, in)
	setStalledCondition(&t.Status.Conditions, in)
	if s.internalErr == nil {
		t.Status.ObservedGeneration = t.Generation
	}
}

func statusEqual(a, b zmqv1.ZMQTopologyStatus) bool { return equality.Semantic.DeepEqual(a, b) }
