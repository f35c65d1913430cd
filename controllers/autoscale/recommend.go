// Package autoscale decides how many replicas a connector-only component
// should run from the backlog its sidecars report (issue 12, item 2b). It
// is pure: Recommender turns one backlog sample per period into a replica
// count with the Horizontal Pod Autoscaler's algorithm (ratio to a target
// with a tolerance, rate limits per period, a scale-down stabilisation
// window), and Measure (backlog.go) computes the sample from the link
// poller's queue snapshots. The scaler runnable in package controllers
// feeds one and writes the other.
package autoscale

import (
	"math"
	"time"
)

// Defaults of Policy, chosen like the HPA's (kube-controller-manager
// --horizontal-pod-autoscaler-tolerance and the default behavior of
// autoscaling/v2).
const (
	// DefaultTolerance: a backlog within 10% of the target changes nothing.
	DefaultTolerance = 0.1
	// DefaultStabilizationWindow for scale-down: the HPA's 300 s.
	DefaultStabilizationWindow = 300 * time.Second
	// DefaultScaleUpPods and DefaultScaleUpPercent: per period, add at most
	// the greater of 4 pods and 100% of the current count.
	DefaultScaleUpPods    = 4
	DefaultScaleUpPercent = 100
	// DefaultScaleDownPercent: per period, remove at most 100% of the pods
	// (down to MinReplicas); the stabilisation window is the brake.
	DefaultScaleDownPercent = 100
)

// Policy is what one component's autoscaling asks for, in the units of
// the backlog (bytes).
type Policy struct {
	// MinReplicas and MaxReplicas bound the recommendation (1 <= Min <= Max).
	MinReplicas, MaxReplicas int32
	// TargetPerReplica is the backlog one replica should carry (> 0).
	TargetPerReplica float64
	// Tolerance is the relative distance from the target within which the
	// count does not change (DefaultTolerance when 0; negative means 0).
	Tolerance float64
	// StabilizationWindow: a scale-down goes only as low as the highest
	// recommendation within this window (DefaultStabilizationWindow when
	// 0; negative means none).
	StabilizationWindow time.Duration
	// ScaleUpPods and ScaleUpPercent limit one period's increase to the
	// greater of the two (defaults when both are 0).
	ScaleUpPods, ScaleUpPercent int32
	// ScaleDownPods and ScaleDownPercent limit one period's decrease to the
	// greater of the two (DefaultScaleDownPercent when both are 0).
	ScaleDownPods, ScaleDownPercent int32
}

func (p Policy) withDefaults() Policy {
	if p.Tolerance == 0 {
		p.Tolerance = DefaultTolerance
	}
	p.Tolerance = max(p.Tolerance, 0)
	if p.StabilizationWindow == 0 {
		p.StabilizationWindow = DefaultStabilizationWindow
	}
	if p.ScaleUpPods == 0 && p.ScaleUpPercent == 0 {
		p.ScaleUpPods, p.ScaleUpPercent = DefaultScaleUpPods, DefaultScaleUpPercent
	}
	if p.ScaleDownPods == 0 && p.ScaleDownPercent == 0 {
		p.ScaleDownPercent = DefaultScaleDownPercent
	}
	p.MinReplicas = max(p.MinReplicas, 1)
	p.MaxReplicas = max(p.MaxReplicas, p.MinReplicas)
	return p
}

// Sample is one period's measurement of a component's backlog.
type Sample struct {
	// Time of the measurement.
	Time time.Time
	// Backlog is the total backlog of the component (bytes).
	Backlog float64
	// Complete is false when some pod the backlog depends on did not answer
	// recently (see Measure): the backlog is then a lower bound, good
	// enough to scale up on but not to scale down on.
	Complete bool
}

// Decision is the outcome of one period.
type Decision struct {
	// Replicas is the count to run, within [MinReplicas, MaxReplicas].
	Replicas int32
	// Raw is the recommendation before stabilisation and rate limits
	// (ceil(backlog / target), clamped to the bounds), or the current count
	// within the tolerance.
	Raw int32
	// Reason says in a few words what limited the decision: "within
	// tolerance", "incomplete backlog", "stabilization window",
	// "scale-up limit", "scale-down limit", "bounds" or "ratio".
	Reason string
}

// Recommender holds one component's recent recommendations (for the
// stabilisation window). It is not safe for concurrent use; the zero value
// is not usable, use NewRecommender.
type Recommender struct {
	policy Policy
	recent []timed
}

type timed struct {
	at       time.Time
	replicas int32
}

// NewRecommender returns a recommender for a policy.
func NewRecommender(p Policy) *Recommender {
	return &Recommender{policy: p.withDefaults()}
}

// Policy is the recommender's policy with defaults filled in.
func (r *Recommender) Policy() Policy { return r.policy }

// SetPolicy changes the policy and keeps the history (a changed bound or
// target applies from the next decision).
func (r *Recommender) SetPolicy(p Policy) { r.policy = p.withDefaults() }

// Next decides the replica count for a sample, given the count the
// workload runs now (its spec.replicas).
//
//  1. raw = ceil(backlog / target), unless backlog / (target * current)
//     is within the tolerance of 1 (then current), clamped to the bounds.
//     An incomplete sample never recommends fewer than current.
//  2. Scale-down stabilisation: the decision is at least the highest raw
//     recommendation within the window (this one included).
//  3. Rate limits relative to current: up by at most max(pods, percent),
//     down by at most max(pods, percent), then the bounds again (a current
//     count outside them is brought back at once).
func (r *Recommender) Next(s Sample, current int32) Decision {
	p := r.policy
	reason := "ratio"
	var raw int32
	cur := max(current, 0)
	ratio := math.Inf(1)
	if cur > 0 {
		ratio = s.Backlog / (p.TargetPerReplica * float64(cur))
	}
	switch {
	case cur > 0 && math.Abs(ratio-1) <= p.Tolerance:
		raw, reason = cur, "within tolerance"
	default:
		raw = int32(min(math.Ceil(s.Backlog/p.TargetPerReplica), float64(math.MaxInt32)))
	}
	if clamped := clamp(raw, p.MinReplicas, p.MaxReplicas); clamped != raw {
		raw, reason = clamped, "bounds"
	}
	if !s.Complete && raw < cur {
		raw, reason = clamp(cur, p.MinReplicas, p.MaxReplicas), "incomplete backlog"
	}

	r.record(s.Time, raw)
	desired := raw
	if desired < cur && p.StabilizationWindow > 0 {
		highest := desired
		for _, t := range r.recent {
			highest = max(highest, t.replicas)
		}
		if highest > desired {
			desired, reason = min(highest, cur), "stabilization window"
		}
	}

	if desired > cur {
		limit := cur + max(p.ScaleUpPods, percentOf(cur, p.ScaleUpPercent))
		if desired > limit {
			desired, reason = limit, "scale-up limit"
		}
	}
	if desired < cur {
		limit := cur - max(p.ScaleDownPods, percentOf(cur, p.ScaleDownPercent))
		if desired < limit {
			desired, reason = limit, "scale-down limit"
		}
	}
	if clamped := clamp(desired, p.MinReplicas, p.MaxReplicas); clamped != desired {
		desired, reason = clamped, "bounds"
	}
	return Decision{Replicas: desired, Raw: raw, Reason: reason}
}

// record appends a recommendation and forgets those older than the
// window.
func (r *Recommender) record(at time.Time, replicas int32) {
	keep := r.recent[:0]
	for _, t := range r.recent {
		if at.Sub(t.at) < r.policy.StabilizationWindow {
			keep = append(keep, t)
		}
	}
	r.recent = append(keep, timed{at: at, replicas: replicas})
}

// percentOf is ceil(n * percent / 100).
func percentOf(n, percent int32) int32 {
	return int32((int64(n)*int64(percent) + 99) / 100)
}

func clamp(n, lo, hi int32) int32 { return min(max(n, lo), hi) }
