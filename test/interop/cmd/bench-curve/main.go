// Command bench-curve prints PUSH->PULL and PUB->SUB throughput over
// loopback TCP with the NULL and CURVE (RFC 26) mechanisms, for pkg/zmtp
// and libzmq (pebbe/zmq4, built with libsodium), all measured in one run,
// so CURVE's cost is read against NULL and against libzmq's CURVE.
//
//	cd test/interop && go run ./cmd/bench-curve [-n16 300000] [-n1k 100000] [-n64k 10000]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/zmq-operator/zmq-operator/test/interop/benchlib"
)

func main() {
	n16 := flag.Int("n16", 300_000, "messages per 16 B case")
	n1k := flag.Int("n1k", 100_000, "messages per 1 KiB case")
	n64k := flag.Int("n64k", 10_000, "messages per 64 KiB case")
	flag.Parse()
	type row struct {
		pattern string
		size, n int
	}
	rows := []row{
		{"PUSH->PULL", 16, *n16}, {"PUSH->PULL", 1024, *n1k}, {"PUSH->PULL", 64 << 10, *n64k},
		{"PUB->SUB", 16, *n16}, {"PUB->SUB", 1024, *n1k},
	}
	fmt.Printf("%-11s %6s  %-7s %-6s %9s %9s %12s %9s\n", "pattern", "size", "impl", "mech", "sent", "received", "msgs/s", "MB/s")
	failed := false
	for _, r := range rows {
		rates := map[string]float64{}
		for _, impl := range []string{"ours", "libzmq"} {
			for _, mech := range []string{"NULL", "CURVE"} {
				res, err := benchlib.Run(benchlib.Case{Impl: impl, Pattern: r.pattern, Size: r.size, Count: r.n, Mechanism: mech})
				if err != nil {
					fmt.Printf("%-11s %6d  %-7s %-6s error: %v\n", r.pattern, r.size, impl, mech, err)
					failed = true
					continue
				}
				rates[impl+"/"+mech] = res.MsgsPerSec()
				fmt.Printf("%-11s %6d  %-7s %-6s %9d %9d %12.0f %9.1f\n", r.pattern, r.size, impl, mech, r.n, res.Received, res.MsgsPerSec(), res.MBPerSec())
			}
		}
		ratio := func(a, b string) string {
			if rates[b] == 0 {
				return "n/a"
			}
			return fmt.Sprintf("%.2fx", rates[a]/rates[b])
		}
		fmt.Printf("%-11s %6d  CURVE/NULL: ours %s, libzmq %s; CURVE ours/libzmq %s\n", r.pattern, r.size,
			ratio("ours/CURVE", "ours/NULL"), ratio("libzmq/CURVE", "libzmq/NULL"), ratio("ours/CURVE", "libzmq/CURVE"))
	}
	if failed {
		os.Exit(1)
	}
}
