package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/zmq-operator/zmq-operator/internal/gomemlimit"
)

// memLimitOnce makes the soft memory limit a setting of the process, set
// once however many agents or devices the process's tests run in it.
var memLimitOnce sync.Once

// setMemoryLimit gives the process a Go soft memory limit (GOMEMLIMIT) at
// gomemlimit.Ratio of its container's memory limit, read again every
// gomemlimit.RefreshInterval until ctx (the process's) ends.
//
// A device's heap is mostly its queues: with an unbounded (or large)
// SNDHWM and a slow consumer they grow, and at the device's GOGC=400
// (deviceGCPercent) the heap may grow to five times what they hold before
// a collection. Without a soft limit the kernel would kill the device,
// losing every queued message, at a fifth of the memory it was given.
func setMemoryLimit(ctx context.Context, log *slog.Logger) {
	memLimitOnce.Do(func() {
		_, _ = gomemlimit.Set(ctx, log, gomemlimit.RefreshInterval) // it logs a failure
	})
}
