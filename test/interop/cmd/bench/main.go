// Command bench prints PUSH->PULL and PUB->SUB throughput over loopback TCP
// for pkg/zmtp, libzmq (pebbe/zmq4) and go-zeromq/zmq4, measured in one run.
//
//	cd test/interop && go run ./cmd/bench [-n16 1000000] [-n1k 100000]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/zmq-operator/zmq-operator/test/interop/benchlib"
)

func main() {
	n16 := flag.Int("n16", 1_000_000, "messages per 16 B case")
	n1k := flag.Int("n1k", 100_000, "messages per 1 KiB case")
	slowDiv := flag.Int("gozmq-div", 5, "go-zeromq/zmq4 sends n/div messages (it is slow)")
	flag.Parse()
	type row struct {
		pattern string
		size    int
	}
	rows := []row{{"PUSH->PULL", 16}, {"PUSH->PULL", 1024}, {"PUB->SUB", 16}, {"PUB->SUB", 1024}}
	impls := []string{"ours", "libzmq", "gozmq4"}
	fmt.Printf("%-11s %6s  %-7s %9s %9s %12s %9s\n", "pattern", "size", "impl", "sent", "received", "msgs/s", "MB/s")
	failed := false
	for _, r := range rows {
		rates := map[string]float64{}
		for _, impl := range impls {
			n := *n16
			if r.size > 16 {
				n = *n1k
			}
			if impl == "gozmq4" {
				n /= *slowDiv
			}
			res, err := benchlib.Run(benchlib.Case{Impl: impl, Pattern: r.pattern, Size: r.size, Count: n})
			if err != nil {
				fmt.Printf("%-11s %6d  %-7s error: %v\n", r.pattern, r.size, impl, err)
				failed = true
				continue
			}
			rates[impl] = res.MsgsPerSec()
			fmt.Printf("%-11s %6d  %-7s %9d %9d %12.0f %9.1f\n", r.pattern, r.size, impl, n, res.Received, res.MsgsPerSec(), res.MBPerSec())
		}
		if rates["libzmq"] > 0 {
			fmt.Printf("%-11s %6d  ours/libzmq = %.2fx\n", r.pattern, r.size, rates["ours"]/rates["libzmq"])
		}
	}
	if failed {
		os.Exit(1)
	}
}
