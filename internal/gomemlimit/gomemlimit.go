// Package gomemlimit gives a Go process a soft memory limit (GOMEMLIMIT,
// runtime/debug.SetMemoryLimit) below its container's memory limit, so that
// the garbage collector works harder as the heap nears the limit instead of
// the kernel's OOM killer ending the process.
//
// The limit is read from the process's cgroup (v1 memory.limit_in_bytes or
// v2 memory.max) by github.com/KimMachineGun/automemlimit. An explicit
// GOMEMLIMIT environment variable wins; AUTOMEMLIMIT=off turns this off,
// and AUTOMEMLIMIT=<ratio in (0,1]> replaces Ratio. A container without a
// memory limit keeps Go's default (no soft limit).
package gomemlimit

import (
	"context"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// Ratio is the share of the container's memory limit that the Go runtime
// may use: the rest is for what it does not count (the binary's pages,
// kernel socket buffers charged to the container, cgo allocations).
const Ratio = 0.9

// RefreshInterval is how often the container's limit is read again, so that
// an in-place resize of the pod (Kubernetes InPlacePodVerticalScaling) takes
// effect without a restart.
const RefreshInterval = time.Minute

// Set sets the soft limit to Ratio of the container's memory limit and
// returns it in bytes (math.MaxInt64: no limit). When a limit was found it
// reads the limit again every refresh (0: never) until ctx ends; where
// there is none to read (no memory cgroup, another OS, a container started
// without a memory limit) it does not try again, so a resize that adds a
// limit needs a restart. log gets what was set, skipped or failed (a
// container without a limit only at Debug). On error the previous limit
// stays.
func Set(ctx context.Context, log *slog.Logger, refresh time.Duration) (int64, error) {
	opts := []memlimit.Option{
		memlimit.WithRatio(Ratio),
		memlimit.WithProvider(memlimit.FromCgroup),
		memlimit.WithLogger(log),
	}
	limit, err := memlimit.Set(opts...)
	if _, fixed := os.LookupEnv("GOMEMLIMIT"); fixed || err != nil || limit == math.MaxInt64 || refresh <= 0 {
		return limit, err
	}
	return memlimit.Set(append(opts, memlimit.WithRefreshInterval(ctx, refresh))...)
}
