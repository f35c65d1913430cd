package main

import (
	"fmt"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// timeline records, as the watch delivers them, when each workload of a
// topology first became ready and when the topology first reported Ready.
// From it come two numbers the totals hide: how far apart a topology's
// workloads become ready (the spread, the cluster's doing), and how long
// after its last workload the topology says Ready (the lag, the
// operator's).
type timeline struct {
	mu         sync.Mutex
	workloads  map[string]map[string]time.Time // topology -> workload -> first ready
	topologies map[string]time.Time            // topology -> first Ready
}

func newTimeline() *timeline {
	return &timeline{workloads: map[string]map[string]time.Time{}, topologies: map[string]time.Time{}}
}

// observe records obj's state at now: a ready workload (Deployment or
// StatefulSet) under its topology's label, or a Ready topology.
func (t *timeline) observe(obj any, now time.Time) {
	var topo, name string
	switch o := obj.(type) {
	case *zmqv1.ZMQTopology:
		if !meta.IsStatusConditionTrue(o.Status.Conditions, zmqv1.ConditionReady) {
			return
		}
		t.mu.Lock()
		if _, ok := t.topologies[o.Name]; !ok {
			t.topologies[o.Name] = now
		}
		t.mu.Unlock()
		return
	case *appsv1.Deployment:
		if !deploymentReady(o) {
			return
		}
		topo, name = o.Labels[render.LabelTopology], o.Name
	case *appsv1.StatefulSet:
		if !statefulSetReady(o) {
			return
		}
		topo, name = o.Labels[render.LabelTopology], o.Name
	default:
		return
	}
	if topo == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.workloads[topo]
	if w == nil {
		w = map[string]time.Time{}
		t.workloads[topo] = w
	}
	if _, ok := w[name]; !ok {
		w[name] = now
	}
}

// summary gives, over the topologies that became Ready, the spread of
// their workloads' ready times and the lag from the last of them to the
// topology's Ready.
func (t *timeline) summary() (spread, lag []time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for topo, ready := range t.topologies {
		w := t.workloads[topo]
		if len(w) == 0 {
			continue
		}
		var first, last time.Time
		for _, at := range w {
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
		spread = append(spread, last.Sub(first))
		lag = append(lag, max(0, ready.Sub(last)))
	}
	return spread, lag
}

// formatQuantiles prints the median, 90th percentile and maximum of ds.
func formatQuantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[int(p*float64(len(ds)-1))].Round(10 * time.Millisecond) }
	return fmt.Sprintf("median %s, p90 %s, max %s", q(0.5), q(0.9), ds[len(ds)-1].Round(10*time.Millisecond))
}

func deploymentReady(d *appsv1.Deployment) bool {
	want := ptr.Deref(d.Spec.Replicas, 1)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want && d.Status.ReadyReplicas == want
}

func statefulSetReady(s *appsv1.StatefulSet) bool {
	want := ptr.Deref(s.Spec.Replicas, 1)
	return s.Status.ObservedGeneration >= s.Generation && s.Status.UpdatedReplicas == want && s.Status.ReadyReplicas == want
}
