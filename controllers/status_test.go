package controllers

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

func TestObserveComponentPhases(t *testing.T) {
	z := preflightTopology(app("d", 2), app("s", 2, bind("out", zmqv1.PUSH, 7000)))
	d, s := &z.Spec.Components[0], &z.Spec.Components[1]
	rolledOut := func(kind render.Kind) workload {
		return workload{kind: kind, generation: 2, observedGeneration: 2, replicas: 2, updated: 2, ready: 2, available: 2}
	}
	for _, tc := range []struct {
		name string
		c    *zmqv1.Component
		w    func(w *workload)
		want phase
	}{
		{"rolled out and ready", d, func(*workload) {}, phaseReady},
		{"the cache shows the generation before our write", d, func(w *workload) { w.appliedGeneration = 3 }, phaseStale},
		{"the cache shows the generation we wrote", d, func(w *workload) { w.appliedGeneration = 2 }, phaseReady},
		{"the Deployment controller has not seen the new generation", d, func(w *workload) { w.generation = 3 }, phaseRollingOut},
		{"old replicas remain", d, func(w *workload) { w.replicas = 3 }, phaseRollingOut},
		{"not all updated", d, func(w *workload) { w.updated = 1 }, phaseRollingOut},
		{"updated but not available", d, func(w *workload) { w.available = 1 }, phaseUnavailable},
		{"a StatefulSet with its revisions equal", s, func(w *workload) { w.kind, w.updateRevision, w.currentRevision = render.KindStatefulSet, "r2", "r2" }, phaseReady},
		{"a StatefulSet still on its old revision", s, func(w *workload) { w.kind, w.updateRevision, w.currentRevision = render.KindStatefulSet, "r2", "r1" }, phaseRollingOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := rolledOut(render.KindDeployment)
			tc.w(&w)
			if got := observeComponent(z, tc.c, &w, "cluster.local").phase; got != tc.want {
				t.Fatalf("phase %d, want %d", got, tc.want)
			}
		})
	}
}

// TestKstatusConditions checks Reconciling and Stalled against every
// state: never both True, Stalled for invalid specs, refusals and
// persistent failures, Reconciling while work is under way.
func TestKstatusConditions(t *testing.T) {
	invalidSpec := field.ErrorList{field.Invalid(field.NewPath("spec", "components").Index(0).Child("name"), "x", "bad")}
	boom := errors.New("applying Service t-x: etcd timeout")
	ready := observed{phase: phaseReady}
	moving := observed{phase: phaseRollingOut, status: zmqv1.ComponentStatus{Name: "x"}}
	stale := observed{phase: phaseStale, status: zmqv1.ComponentStatus{Name: "x", Kind: "Deployment"}}
	lost := observed{phase: phaseUnavailable, status: zmqv1.ComponentStatus{Name: "x"}}
	type want struct {
		ready, reconciling, stalled metav1.ConditionStatus
		reason                      string // of Ready
	}
	T, F := metav1.ConditionTrue, metav1.ConditionFalse
	for _, tc := range []struct {
		name string
		in   conditionInputs
		want want
	}{
		{"ready", conditionInputs{components: []observed{ready}}, want{T, F, F, zmqv1.ReasonReady}},
		{"rolling out", conditionInputs{components: []observed{ready, moving}}, want{F, T, F, zmqv1.ReasonComponentNotReady}},
		{"stale cache", conditionInputs{components: []observed{stale}}, want{F, T, F, zmqv1.ReasonComponentNotReady}},
		{"lost replicas after the rollout", conditionInputs{components: []observed{lost}}, want{F, F, F, zmqv1.ReasonComponentNotReady}},
		{"invalid or refused", conditionInputs{invalid: invalidSpec, components: []observed{moving}}, want{F, F, T, zmqv1.ReasonInvalidSpec}},
		{"a transient failure", conditionInputs{applyErr: boom, components: []observed{ready}}, want{F, T, F, zmqv1.ReasonApplyFailed}},
		{"a persistent failure", conditionInputs{applyErr: boom, stalled: true}, want{F, F, T, zmqv1.ReasonApplyFailed}},
		{"paused", conditionInputs{paused: true, components: []observed{moving}}, want{F, F, F, zmqv1.ReasonComponentNotReady}},
		{"internal error", conditionInputs{internalErr: boom}, want{F, T, F, zmqv1.ReasonInternalError}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conds []metav1.Condition
			tc.in.generation = 4
			setReadyCondition(&conds, tc.in)
			setReconcilingCondition(&conds, tc.in)
			setStalledCondition(&conds, tc.in)
			got := want{
				ready:       meta.FindStatusCondition(conds, zmqv1.ConditionReady).Status,
				reconciling: meta.FindStatusCondition(conds, zmqv1.ConditionReconciling).Status,
				stalled:     meta.FindStatusCondition(conds, zmqv1.ConditionStalled).Status,
				reason:      meta.FindStatusCondition(conds, zmqv1.ConditionReady).Reason,
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for _, c := range conds {
				if c.ObservedGeneration != 4 || c.Reason == "" || c.Message == "" {
					t.Errorf("condition %s incomplete: %+v", c.Type, c)
				}
			}
		})
	}
}
