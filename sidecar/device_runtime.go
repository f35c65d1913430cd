package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// deviceGCPercent is the garbage collector's target (GOGC) of a device
// process unless GOGC is set in its environment. A device's live heap is
// little more than its queues, while every message it forwards becomes
// garbage as soon as it is written, so the collector runs often for little
// gain: collecting at 4x the live heap instead of Go's 2x does a quarter as
// many collections, for a heap that stays a few MiB at the default HWMs.
const deviceGCPercent = 400

// checkIOThreads refuses an --io-threads outside 0..zmqconfig.MaxDeviceIOThreads.
func checkIOThreads(n int) error {
	if n < 0 || n > zmqconfig.MaxDeviceIOThreads {
		return fmt.Errorf("--io-threads %d: must be 0 (the Go runtime's default) to %d", n, zmqconfig.MaxDeviceIOThreads)
	}
	return nil
}

// tuneDeviceRuntime applies deviceGCPercent unless the environment sets
// GOGC, and ioThreads (checked by checkIOThreads) as GOMAXPROCS unless the
// environment sets a GOMAXPROCS that Go accepts (a positive integer);
// ioThreads 0 keeps Go's default (the container's CPU limit rounded up, at
// least 2, else every CPU the process may use). It returns the GOMAXPROCS
// in effect. Both settings are the whole process's.
//
// Why one thread by default (zmqconfig.DefaultDeviceIOThreads, as libzmq's
// ZMQ_IO_THREADS): each direction of a device is a pipeline of goroutines
// (a reader per peer, the forwarding loop, a writer per peer); on one
// thread a hand-off between them is a goroutine switch, where on several
// it wakes a thread on another core and moves the batch's cache lines
// there. Measured with bench-devices on a 2-core machine, one thread used
// less or the same CPU per message than two and forwarded more in most
// rows (README, "Device threads").
func tuneDeviceRuntime(ioThreads int) int {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(deviceGCPercent)
	}
	if ioThreads > 0 && !envMaxProcs() {
		runtime.GOMAXPROCS(ioThreads)
	}
	return runtime.GOMAXPROCS(0)
}

// envMaxProcs reports whether the environment sets GOMAXPROCS to a value
// the Go runtime uses; it ignores any other.
func envMaxProcs() bool {
	n, err := strconv.Atoi(os.Getenv("GOMAXPROCS"))
	return err == nil && n > 0
}
