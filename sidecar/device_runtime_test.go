package main

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// TestDeviceIOThreads: --io-threads sets the device's GOMAXPROCS (1 by
// default), 0 keeps the runtime's, the GOMAXPROCS environment variable
// wins over both, and a value out of range is refused, naming the flag,
// before the configuration is read.
func TestDeviceIOThreads(t *testing.T) {
	prevProcs := runtime.GOMAXPROCS(0)
	prevGC := debug.SetGCPercent(100)
	debug.SetGCPercent(prevGC)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(prevProcs)
		debug.SetGCPercent(prevGC)
	})
	for _, env := range []string{"GOMAXPROCS", "GOGC"} {
		t.Setenv(env, "") // restored after the test
		os.Unsetenv(env)
	}
	if prevProcs < 2 {
		t.Skip("needs 2 or more CPUs to tell GOMAXPROCS 1 from the default")
	}

	for _, n := range []int{-1, zmqconfig.MaxDeviceIOThreads + 1} {
		err := runDevice(context.Background(), []string{"forwarder", "--config", "/nonexistent/topology.json", "--io-threads", strconv.Itoa(n)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--io-threads") {
			t.Errorf("--io-threads %d: err = %v; want it refused, naming the flag", n, err)
		}
	}
	if runtime.GOMAXPROCS(0) != prevProcs {
		t.Fatalf("a refused --io-threads changed GOMAXPROCS to %d", runtime.GOMAXPROCS(0))
	}

	if got := tuneDeviceRuntime(0); got != prevProcs {
		t.Errorf("--io-threads 0: GOMAXPROCS %d; want the runtime's %d", got, prevProcs)
	}
	if got := tuneDeviceRuntime(zmqconfig.DefaultDeviceIOThreads); got != 1 || runtime.GOMAXPROCS(0) != 1 {
		t.Errorf("the default --io-threads: GOMAXPROCS %d; want 1", got)
	}
	if got := debug.SetGCPercent(prevGC); got != deviceGCPercent {
		t.Errorf("GOGC %d; want the device's %d", got, deviceGCPercent)
	}
	runtime.GOMAXPROCS(prevProcs)

	// A GOMAXPROCS the runtime ignores does not stop the flag either.
	t.Setenv("GOMAXPROCS", "many")
	if got := tuneDeviceRuntime(1); got != 1 {
		t.Errorf("GOMAXPROCS=many in the environment with --io-threads 1: GOMAXPROCS %d; want 1", got)
	}
	runtime.GOMAXPROCS(prevProcs)
	t.Setenv("GOMAXPROCS", strconv.Itoa(prevProcs))
	if got := tuneDeviceRuntime(1); got != prevProcs {
		t.Errorf("GOMAXPROCS=%d in the environment with --io-threads 1: GOMAXPROCS %d; want the environment's", prevProcs, got)
	}
	os.Unsetenv("GOMAXPROCS")

	// Through the device itself: its usage gives the default, and a
	// running device applies the flag.
	var usage strings.Builder
	if err := runDevice(context.Background(), []string{"streamer", "--help"}, &usage); !errors.Is(err, errHelpShown) {
		t.Fatalf("device --help: %v; want errHelpShown", err)
	}
	if want := "(default " + strconv.Itoa(zmqconfig.DefaultDeviceIOThreads) + ")"; !strings.Contains(usage.String(), want) ||
		!strings.Contains(usage.String(), "io-threads") {
		t.Errorf("device usage does not give --io-threads %s:\n%s", want, usage.String())
	}
	startDevice(t, "streamer", "PULL", "PUSH", func(_ *zmqconfig.Config, args *[]string) {
		*args = append(*args, "--io-threads", "1")
	})
	deadline := time.Now().Add(10 * time.Second)
	for runtime.GOMAXPROCS(0) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("a running device with --io-threads 1: GOMAXPROCS %d; want 1", got)
	}
}
