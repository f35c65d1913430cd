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
