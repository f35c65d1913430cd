package main

import (
	"fmt"
	"testing"
	"time"
)

func TestMedianRound(t *testing.T) {
	round := func(op time.Duration) result { return result{n: 200, floor: 10 * time.Second, operator: op} }
	for _, tc := range []struct {
		ops       []time.Duration
		want      time.Duration
		wantRatio string
	}{
		{[]time.Duration{13 * time.Second}, 13 * time.Second, "[1.3]"},
		{[]time.Duration{14 * time.Second, 11 * time.Second, 12 * time.Second}, 12 * time.Second, "[1.4 1.1 1.2]"},
		{[]time.Duration{14 * time.Second, 11 * time.Second, 12 * time.Second, 13 * time.Second}, 12 * time.Second, "[1.4 1.1 1.2 1.3]"},
	} {
		var rs []result
		for _, op := range tc.ops {
			rs = append(rs, round(op))
		}
		m := medianRound(rs)
		if m.operator != tc.want || fmt.Sprint(m.ratios) != tc.wantRatio {
			t.Errorf("medianRound(%v) = %s with ratios %v; want %s with %s", tc.ops, m.operator, m.ratios, tc.want, tc.wantRatio)
		}
	}
}

func TestAdjustedRatio(t *testing.T) {
	r := result{
		floor: 60 * time.Second, operator: 84 * time.Second, // 1.4x
		floorCPU:    map[string]time.Duration{"kube-controller": 10 * time.Second, "kube-scheduler": 10 * time.Second, "kwok": 10 * time.Second, "kube-apiserver": 70 * time.Second},
		operatorCPU: map[string]time.Duration{"kube-controller": 12 * time.Second, "kube-scheduler": 12 * time.Second, "kwok": 12 * time.Second, "kube-apiserver": 95 * time.Second, "manager": 12 * time.Second},
	}
	if s := slowdown(r); fmt.Sprintf("%.2f", s) != "1.20" {
		t.Errorf("slowdown = %.3f; want 1.20 (the fixed work only)", s)
	}
	if a := adjustedRatio(r); fmt.Sprintf("%.3f", a) != "1.167" {
		t.Errorf("adjustedRatio = %.3f; want 1.4/1.2", a)
	}
	if a := adjustedRatio(result{floor: time.Second, operator: time.Second}); a != 0 {
		t.Errorf("adjustedRatio without CPU times = %v; want 0", a)
	}
}
