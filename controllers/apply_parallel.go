package controllers

import (
	"context"
	"sync"
)

// The apply phase sends its requests for independent children at once
// rather than one after another: a reconcile then takes a few round trips
// to the API server (the dry runs, then the two stages of byStage) instead
// of two per child, which is what bounds throughput when the API server is
// slow to answer. The client's QPS limit still bounds the rate.

// inParallel calls f for each change at once, except for a change that
// already has its error, and returns the errors in the order of changes.
func inParallel(ctx context.Context, changes []change, f func(ctx context.Context, i int, c change) error) []error {
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i, c := range changes {
		if c.err != nil {
			errs[i] = c.err
			continue
		}
		if len(changes) == 1 {
			errs[i] = f(ctx, i, c)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(ctx, i, c)
		}()
	}
	wg.Wait()
	return errs
}

// byStage splits changes, which come in apply order (render.Kinds), into
// the two stages of a write: every child that starts no pod (NetworkPolicies,
// ConfigMaps, Services, PodDisruptionBudgets), all at once, then the
// workloads, all at once. The other children do not depend on one another;
// what must be in place before pods start (the policy that guards them, the
// ConfigMap they mount, the Service names they resolve, the budget that
// protects them) is, since a failure in the first stage holds back the
// second.
func byStage(changes []change) [][]change {
	var inert, workloads []change
	for _, c := range changes {
		if c.obj.Kind.IsWorkload() {
			workloads = append(workloads, c)
		} else {
			inert = append(inert, c)
		}
	}
	var out [][]change
	for _, g := range [][]change{inert, workloads} {
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	return out
}
