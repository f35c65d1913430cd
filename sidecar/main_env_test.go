package main

import (
	"os"
	"runtime"
	"strconv"
	"testing"
)

// TestMain pins GOMAXPROCS in the environment to the test process's own
// value: the devices these tests run in-process then leave it alone (the
// environment wins over --io-threads), and only TestDeviceIOThreads,
// which clears the variable, sees the flag act.
func TestMain(m *testing.M) {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		os.Setenv("GOMAXPROCS", strconv.Itoa(runtime.GOMAXPROCS(0)))
	}
	os.Exit(m.Run())
}
