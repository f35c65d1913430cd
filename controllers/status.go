package controllers

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// This file computes status from observations. Every function is pure: no
// client, no clock other than what meta.SetStatusCondition stamps when a
// condition's status flips.

// phase is where a component stands.
type phase int

const (
	phaseReady       phase = iota
	phaseMissing           // no workload yet
	phaseRollingOut        // the workload has not caught up with its spec
	phaseUnavailable       // rolled out, but replicas are not ready
	phaseStale             // the cache still shows the workload from before our write
)

// moving is true while the component's workload has not caught up with
// what the operator wrote.
func (p phase) moving() bool {
	return p == phaseMissing || p == phaseRollingOut || p == phaseStale
}

// observed is one component's status and phase.
type observed struct {
	status zmqv1.ComponentStatus
	phase  phase
}

// observeComponent derives a component's status from its workload (nil when
// missing).
func observeComponent(t *zmqv1.ZMQTopology, c *zmqv1.Component, w *workload, clusterDomain string) observed {
	desired := render.Replicas(c)
	st := zmqv1.ComponentStatus{
		Name:      c.Name,
		Kind:      string(render.WorkloadKind(c)),
		Replicas:  desired,
		Endpoints: boundEndpoints(t, c, clusterDomain),
	}
	if w == nil || w.kind != render.WorkloadKind(c) {
		return observed{status: st, phase: phaseMissing}
	}
	if !render.OwnsReplicas(c) {
		// Someone else scales it: readiness follows their count.
		desired = w.specReplicas
		st.Replicas = desired
	}
	st.ReadyReplicas = w.ready
	st.UpdatedReplicas = w.updated
	switch {
	case w.generation < w.appliedGeneration:
		return observed{status: st, phase: phaseStale}
	case !w.rolledOut(desired):
		return observed{status: st, phase: phaseRollingOut}
	case !w.allReady(desired):
		return observed{status: st, phase: phaseUnavailable}
	}
	st.Ready = true
	return observed{status: st, phase: phaseReady}
}

func boundEndpoints(t *zmqv1.ZMQTopology, c *zmqv1.Component, clusterDomain string) []string {
	var out []string
	for i := range c.Sockets {
		s := &c.Sockets[i]
		if s.Bind == nil {
			continue
		}
		for _, ep := range render.Addresses(t, c, s, clusterDomain) {
			out = append(out, s.Name+"="+ep)
		}
	}
	return out
}

// describe says why a component is not ready, for condition messages.
func (o observed) describe() string {
	s := o.status
	switch o.phase {
	case phaseMissing:
		return fmt.Sprintf("component %s: %s not created yet", s.Name, s.Kind)
	case phaseStale:
		return fmt.Sprintf("component %s: waiting to observe the %s just written", s.Name, s.Kind)
	case phaseRollingOut:
		return fmt.Sprintf("component %s: rolling out, %d/%d replicas updated, %d ready", s.Name, s.UpdatedReplicas, s.Replicas, s.ReadyReplicas)
	case phaseUnavailable:
		return fmt.Sprintf("component %s: %d/%d replicas ready", s.Name, s.ReadyReplicas, s.Replicas)
	}
	return fmt.Sprintf("component %s: %d/%d replicas ready", s.Name, s.ReadyReplicas, s.Replicas)
}

// linkStatuses lists one link per connect to a component of the topology,
// ready when both ends are and, once the poller has a report of the
// connecting pods (see links.go), every expected connection is up. down
// lists the links whose ends are ready but whose connections are not all
// up.
func linkStatuses(t *zmqv1.ZMQTopology, components map[string]observed, report *linkpoll.TopologyReport, clusterDomain string) (links, down []zmqv1.LinkStatus) {
	for ci := range t.Spec.Components {
		c := &t.Spec.Components[ci]
		for si := range c.Sockets {
			s := &c.Sockets[si]
			if s.Connect == nil || s.Connect.Component == "" {
				continue
			}
			target := t.Component(s.Connect.Component)
			bound := target.Socket(s.Connect.Socket)
			l := zmqv1.LinkStatus{
				From:    c.Name + "/" + s.Name,
				To:      target.Name + "/" + bound.Name,
				Pattern: zmqv1.Pattern(bound.Type, s.Type),
				Ready:   true,
			}
			for _, end := range []string{c.Name, target.Name} {
				if !components[end].status.Ready {
					l.Ready = false
					l.Reason = fmt.Sprintf("component %s is not ready", end)
					break
				}
			}
			endsReady := l.Ready
			if report != nil {
				h := rollUpLink(c, s, components[c.Name].status.ReadyReplicas, connectEndpoints(t, c, s, clusterDomain), report)
				l = withHealth(l, h, endsReady)
				if endsReady && h.down() {
					down = append(down, l)
				}
			}
			links = append(links, l)
		}
	}
	return links, down
}

// patterns summarizes the links' patterns, in first-seen order.
func patterns(links []zmqv1.LinkStatus) string {
	var out []string
	seen := map[string]bool{}
	for _, l := range links {
		if !seen[l.Pattern] {
			seen[l.Pattern] = true
			out = append(out, l.Pattern)
		}
	}
	return strings.Join(out, ",")
}

// conditionInputs are everything the conditions depend on.
type conditionInputs struct {
	generation  int64
	invalid     field.ErrorList
	applyErr    error
	internalErr error
	stalled     bool // a child keeps failing
	paused      bool
	components  []observed // in spec order
	links       []zmqv1.LinkStatus
	// downLinks are the links whose components are ready but whose
	// connections are not all up.
	downLinks []zmqv1.LinkStatus
}

// setReadyCondition: True only when the spec is valid, every child was
// written and every component and link is ready; otherwise the reason names
// the first failure.
func setReadyCondition(conds *[]metav1.Condition, in conditionInputs) {
	c := metav1.Condition{Type: zmqv1.ConditionReady, Status: metav1.ConditionFalse, ObservedGeneration: in.generation}
	c.Reason, c.Message = firstFailure(in)
	if c.Reason == "" {
		c.Status = metav1.ConditionTrue
		c.Reason = zmqv1.ReasonReady
		c.Message = fmt.Sprintf("%d components and %d links ready", len(in.components), len(in.links))
	}
	meta.SetStatusCondition(conds, c)
}

func firstFailure(in conditionInputs) (reason, message string) {
	switch {
	case len(in.invalid) > 0:
		return zmqv1.ReasonInvalidSpec, invalidMessage(in.invalid)
	case in.internalErr != nil:
		return zmqv1.ReasonInternalError, "Please check the operator's logs for errors"
	case in.applyErr != nil:
		return zmqv1.ReasonApplyFailed, in.applyErr.Error()
	}
	for _, o := range in.components {
		if o.phase != phaseReady {
			return zmqv1.ReasonComponentNotReady, o.describe()
		}
	}
	if len(in.downLinks) > 0 {
		return zmqv1.ReasonLinkDown, linkDownMessage(in.downLinks)
	}
	for _, l := range in.links {
		if !l.Ready {
			return zmqv1.ReasonLinkNotReady, fmt.Sprintf("link %s -> %s: %s", l.From, l.To, l.Reason)
		}
	}
	return "", ""
}

// invalidMessage lists every validation error with its field path, in a
// stable order.
func invalidMessage(errs field.ErrorList) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	sort.Strings(msgs)
	return "invalid spec (children left unchanged): " + strings.Join(msgs, "; ")
}

// setProgressingCondition: True while a component's workload is being
// created or rolled out; False when paused or when nothing moves.
func setProgressingCondition(conds *[]metav1.Condition, in conditionInputs) {
	c := metav1.Condition{Type: zmqv1.ConditionProgressing, Status: metav1.ConditionFalse, ObservedGeneration: in.generation,
		Reason: zmqv1.ReasonRolledOut, Message: "no rollout under way"}
	if in.paused {
		c.Reason, c.Message = zmqv1.ReasonPaused, "spec.paused is true: children are not changed"
	} else {
		for _, o := range in.components {
			if o.phase.moving() {
				c.Status, c.Reason, c.Message = metav1.ConditionTrue, zmqv1.ReasonRollingOut, o.describe()
				break
			}
		}
	}
	meta.SetStatusCondition(conds, c)
}

// setDegradedCondition: True when the spec is invalid, a child cannot be
// written, a rolled-out component lost replicas, or a link between ready
// components has connections down (LinkDown, naming the pod pair).
func setDegradedCondition(conds *[]metav1.Condition, in conditionInputs) {
	c := metav1.Condition{Type: zmqv1.ConditionDegraded, Status: metav1.ConditionTrue, ObservedGeneration: in.generation}
	switch {
	case len(in.invalid) > 0:
		c.Reason, c.Message = zmqv1.ReasonInvalidSpec, invalidMessage(in.invalid)
	case in.internalErr != nil:
		c.Reason, c.Message = zmqv1.ReasonInternalError, "Please check the operator's logs for errors"
	case in.applyErr != nil:
		c.Reason, c.Message = zmqv1.ReasonApplyFailed, in.applyErr.Error()
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, zmqv1.ReasonAsExpected, "all rolled-out components have their replicas"
		for _, o := range in.components {
			if o.phase == phaseUnavailable {
				c.Status, c.Reason, c.Message = metav1.ConditionTrue, zmqv1.ReasonReplicasUnavailable, o.describe()
				break
			}
		}
		if c.Status == metav1.ConditionFalse && len(in.downLinks) > 0 {
			c.Status, c.Reason, c.Message = metav1.ConditionTrue, zmqv1.ReasonLinkDown, linkDownMessage(in.downLinks)
		}
	}
	meta.SetStatusCondition(conds, c)
}

// linkDownMessage names the first down link and its broken pod pair, and
// how many other links are down.
func linkDownMessage(down []zmqv1.LinkStatus) string {
	l := down[0]
	msg := fmt.Sprintf("link %s -> %s: %d/%d connections up: %s", l.From, l.To, l.ConnectionsUp, l.ExpectedConnections, l.Reason)
	if len(down) > 1 {
		msg += fmt.Sprintf(" (%d more links down)", len(down)-1)
	}
	return msg
}

// ready counts the ready entries as "<ready>/<total>".
func ready[T any](items []T, isReady func(T) bool) string {
	n := 0
	for _, it := range items {
		if isReady(it) {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(items))
}

// setReconcilingCondition is kstatus' Reconciling (abnormal-true, read as
// InProgress): True while the operator works towards the spec, that is a
// workload being created or rolled out, a stale read of one, or a failed
// write about to be retried; False otherwise, and False when stalled (the
// two are never True together).
func setReconcilingCondition(conds *[]metav1.Condition, in conditionInputs) {
	c := metav1.Condition{Type: zmqv1.ConditionReconciling, Status: metav1.ConditionTrue, ObservedGeneration: in.generation}
	switch {
	case len(in.invalid) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, zmqv1.ReasonInvalidSpec, "stalled: see the Stalled condition"
	case in.stalled:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, zmqv1.ReasonApplyFailed, "stalled: see the Stalled condition"
	case in.paused:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, zmqv1.ReasonPaused, "spec.paused is true: children are not changed"
	case in.internalErr != nil:
		c.Reason, c.Message = zmqv1.ReasonInternalError, "Please check the operator's logs for errors"
	case in.applyErr != nil:
		c.Reason, c.Message = zmqv1.ReasonApplyFailed, in.applyErr.Error()+" (retried with backoff)"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, zmqv1.ReasonAsExpected, "every workload has caught up with the spec"
		for _, o := range in.components {
			if o.phase.moving() {
				c.Status, c.Reason, c.Message = metav1.ConditionTrue, zmqv1.ReasonRollingOut, o.describe()
				break
			}
		}
	}
	meta.SetStatusCondition(conds, c)
}

// setStalledCondition is kstatus' Stalled (abnormal-true, read as Failed):
// True when the operator cannot make progress until someone changes the
// spec or the cluster: the spec is invalid or a child was refused
// (InvalidSpec), or a child keeps failing (ApplyFailed, retried with
// backoff all the same).
func setStalledCondition(conds *[]metav1.Condition, in conditionInputs) {
	c := metav1.Condition{Type: zmqv1.ConditionStalled, Status: metav1.ConditionTrue, ObservedGeneration: in.generation}
	switch {
	case len(in.invalid) > 0:
		c.Reason, c.Message = zmqv1.ReasonInvalidSpec, invalidMessage(in.invalid)
	case in.stalled && in.applyErr != nil:
		c.Reason, c.Message = zmqv1.ReasonApplyFailed, in.applyErr.Error()+" (failing persistently; retried with backoff)"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, zmqv1.ReasonAsExpected, "not stalled"
	}
	meta.SetStatusCondition(conds, c)
}
