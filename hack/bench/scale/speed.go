package main

import "time"

// The floor and the operator run one after the other on a shared machine,
// whose speed moves between phases by more than the operator's own cost:
// on one day the processes that do the same work in both phases took up
// to 1.26x the CPU time in one phase than in the other. kube-controller-
// manager, kube-scheduler and kwok create, schedule and start the same
// 15 pods per topology in both phases, whoever wrote the workloads, so
// the CPU time they took measures how fast the machine was in each phase.

// fixedWork are the command names (as /proc has them) of the processes
// whose work is the same in both phases.
var fixedWork = []string{"kube-controller", "kube-scheduler", "kwok"}

// slowdown is the CPU time the fixed work took in the operator phase over
// that in the floor: above 1 when the machine was slower during the
// operator phase. 0 when a phase has no such CPU time.
func slowdown(r result) float64 {
	var op, floor time.Duration
	for _, name := range fixedWork {
		op += r.operatorCPU[name]
		floor += r.floorCPU[name]
	}
	if op == 0 || floor == 0 {
		return 0
	}
	return op.Seconds() / floor.Seconds()
}

// adjustedRatio is the ratio of times divided by the slowdown: the ratio
// had the machine been as fast in both phases. 0 when either is unknown.
func adjustedRatio(r result) float64 {
	s := slowdown(r)
	if s == 0 {
		return 0
	}
	return ratio(r) / s
}
