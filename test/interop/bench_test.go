package interop

import (
	"fmt"
	"testing"

	"github.com/zmq-operator/zmq-operator/test/interop/benchlib"
)

// BenchmarkThroughput measures PUSH->PULL and PUB->SUB with 16 B and 1 KiB
// messages for ours, libzmq and go-zeromq/zmq4 (acceptance 5):
//
//	cd test/interop && go test -run '^$' -bench Throughput -benchtime 1000000x
//
// For the table with ratios, use `go run ./cmd/bench`.
func BenchmarkThroughput(b *testing.B) {
	for _, pattern := range []string{"PUSH->PULL", "PUB->SUB"} {
		for _, size := range []int{16, 1024} {
			for _, impl := range []string{"ours", "libzmq", "gozmq4"} {
				b.Run(fmt.Sprintf("%s/%dB/%s", pattern, size, impl), func(b *testing.B) {
					res, err := benchlib.Run(benchlib.Case{Impl: impl, Pattern: pattern, Size: size, Count: b.N})
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(res.MsgsPerSec(), "msgs/s")
					b.ReportMetric(res.MBPerSec(), "MB/s")
					b.ReportMetric(float64(res.Received)/float64(b.N)*100, "%recv")
				})
			}
		}
	}
}

// BenchmarkCurveThroughput measures PUSH->PULL with the NULL and CURVE
// mechanisms for ours and libzmq in one run (for the table with ratios,
// use `go run ./cmd/bench-curve`):
//
//	cd test/interop && go test -run '^$' -bench CurveThroughput -benchtime 100000x
func BenchmarkCurveThroughput(b *testing.B) {
	for _, size := range []int{16, 1024} {
		for _, impl := range []string{"ours", "libzmq"} {
			for _, mech := range []string{"NULL", "CURVE"} {
				b.Run(fmt.Sprintf("%dB/%s/%s", size, impl, mech), func(b *testing.B) {
					res, err := benchlib.Run(benchlib.Case{Impl: impl, Pattern: "PUSH->PULL", Size: size, Count: b.N, Mechanism: mech})
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(res.MsgsPerSec(), "msgs/s")
					b.ReportMetric(res.MBPerSec(), "MB/s")
				})
			}
		}
	}
}
