package main

import (
	"os"
	"runtime/debug"
)

// deviceGCPercent is the garbage collector's target (GOGC) of a device
// process unless GOGC is set in its environment. A device's live heap is
// little more than its queues, while every message it forwards becomes
// garbage as soon as it is written, so the collector runs often for little
// gain: collecting at 4x the live heap instead of Go's 2x does a quarter as
// many collections, for a heap that stays a few MiB at the default HWMs.
const deviceGCPercent = 400

// tuneDeviceGC applies deviceGCPercent unless the environment sets GOGC.
func tuneDeviceGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(deviceGCPercent)
	}
}
