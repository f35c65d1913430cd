package controllers

import (
	"context"
	"sync"
)

// The apply phase sends its requests for independent children at once
// rather than one after another: a reconcile then takes a few round trips
// to the API server (the dry runs, then one per kind of child) instead of
// two per child, which is what bounds throughput when the API server is
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

// byKind splits changes, which come in apply order (render.Kinds), into
// runs of one kind: children of one kind are written at once, each kind
// after the ones before it (ConfigMaps before the workloads that mount
// them).
func byKind(changes []change) [][]change {
	var out [][]change
	for i := 0; i < len(changes); {
		j := i + 1
		for j < len(changes) && changes[j].obj.Kind == changes[i].obj.Kind {
			j++
		}
		out = append(out, changes[i:j])
		i = j
	}
	return out
}
