package autoscale

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// step is one period: the sample's backlog, whether it is complete, the
// current count, and the expected decision.
type step struct {
	backlog  float64
	complete bool
	current  int32
	want     int32
	reason   string
}

func TestRecommender(t *testing.T) {
	const kib = 1024.0
	base := Policy{MinReplicas: 1, MaxReplicas: 10, TargetPerReplica: 100 * kib, StabilizationWindow: 3 * time.Minute}
	for _, tc := range []struct {
		name   string
		policy Policy
		period time.Duration
		steps  []step
	}{
		{"no backlog stays at min", base, time.Minute, []step{
			{0, true, 1, 1, "bounds"},
			{0, true, 1, 1, "bounds"},
		}},
		{"within tolerance keeps the count", base, time.Minute, []step{
			{3 * 105 * kib, true, 3, 3, "within tolerance"},
			{3 * 91 * kib, true, 3, 3, "within tolerance"},
		}},
		{"ratio above target scales up to ceil(backlog/target)", base, time.Minute, []step{
			{250 * kib, true, 1, 3, "ratio"},
		}},
		{"scale-up limited to max(4 pods, 100%) per period", base, time.Minute, []step{
			{10000 * kib, true, 1, 5, "scale-up limit"},
			{10000 * kib, true, 5, 10, "bounds"},
			{10000 * kib, true, 10, 10, "bounds"},
		}},
		{"percent limit wins over pods when larger", Policy{MinReplicas: 1, MaxReplicas: 100, TargetPerReplica: kib, ScaleUpPods: 1, ScaleUpPercent: 50}, time.Minute, []step{
			{100 * kib, true, 10, 15, "scale-up limit"},
			{100 * kib, true, 1, 2, "scale-up limit"},
		}},
		{"scale-down waits for the stabilization window", base, time.Minute, []step{
			{600 * kib, true, 1, 5, "scale-up limit"},
			{600 * kib, true, 5, 6, "ratio"},
			{0, true, 6, 6, "stabilization window"}, // t=2m: 6 at t=1m within 3m
			{0, true, 6, 6, "stabilization window"}, // t=3m: 6 at t=1m within 3m
			{0, true, 6, 1, "bounds"},               // t=4m: window holds only min recommendations
		}},
		{"stabilization keeps the highest, not the latest", base, time.Minute, []step{
			{400 * kib, true, 4, 4, "within tolerance"},
			{200 * kib, true, 4, 4, "stabilization window"},
			{100 * kib, true, 4, 4, "stabilization window"},
			{100 * kib, true, 4, 2, "stabilization window"}, // 4 left the window, 2 at t=1m is the highest
			{100 * kib, true, 2, 1, "ratio"},
		}},
		{"scale-down rate limit", Policy{MinReplicas: 1, MaxReplicas: 10, TargetPerReplica: kib, StabilizationWindow: -1, ScaleDownPods: 2}, time.Minute, []step{
			{0, true, 9, 7, "scale-down limit"},
			{0, true, 7, 5, "scale-down limit"},
			{0, true, 5, 3, "scale-down limit"},
			{0, true, 3, 1, "bounds"},
		}},
		{"incomplete samples scale up but never down", Policy{MinReplicas: 1, MaxReplicas: 10, TargetPerReplica: kib, StabilizationWindow: -1}, time.Minute, []step{
			{0, false, 4, 4, "incomplete backlog"},
			{8 * kib, false, 4, 8, "ratio"},
			{0, true, 8, 1, "bounds"},
		}},
		{"a count outside the bounds is brought back", Policy{MinReplicas: 2, MaxReplicas: 4, TargetPerReplica: kib}, time.Minute, []step{
			{3 * kib, true, 9, 3, "ratio"},
			{100 * kib, true, 9, 4, "bounds"},
			{0, true, 0, 2, "bounds"},
		}},
		{"zero current replicas scales from the ratio", base, time.Minute, []step{
			{250 * kib, true, 0, 3, "ratio"},
		}},
		{"huge backlog does not overflow", Policy{MinReplicas: 1, MaxReplicas: 1000, TargetPerReplica: 1, ScaleUpPercent: 100}, time.Minute, []step{
			{1e300, true, 500, 1000, "bounds"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRecommender(tc.policy)
			for i, s := range tc.steps {
				d := r.Next(Sample{Time: t0.Add(time.Duration(i) * tc.period), Backlog: s.backlog, Complete: s.complete}, s.current)
				if d.Replicas != s.want || d.Reason != s.reason {
					t.Errorf("step %d: backlog %.0f, current %d: got %d (%s), want %d (%s)", i, s.backlog, s.current, d.Replicas, d.Reason, s.want, s.reason)
				}
			}
		})
	}
}

func TestPolicyDefaults(t *testing.T) {
	p := NewRecommender(Policy{MaxReplicas: 0, TargetPerReplica: 1}).Policy()
	if p.MinReplicas != 1 || p.MaxReplicas != 1 || p.Tolerance != DefaultTolerance || p.StabilizationWindow != DefaultStabilizationWindow ||
		p.ScaleUpPods != DefaultScaleUpPods || p.ScaleUpPercent != DefaultScaleUpPercent || p.ScaleDownPercent != DefaultScaleDownPercent {
		t.Fatalf("defaults: %+v", p)
	}
}
