// Command bench-devices prints Forwarder (PUB->[proxy]->SUB) and Streamer
// (PUSH->[proxy]->PULL) throughput over loopback TCP at 16 B and 1 KiB
// through three proxies, measured in one run: our `zmq-sidecar device`
// binary, libzmq's zmq_proxy (pebbe/zmq4) and go-zeromq/zmq4's NewProxy.
// The producer and the consumer are libzmq in every case, so only the
// proxy differs; every proxy runs in its own process.
//
//	cd test/interop && go run ./cmd/bench-devices [-n16 200000] [-n1k 50000]
//
// The zmq-sidecar binary is built from the root module unless -sidecar
// names one.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/zmq-operator/zmq-operator/test/interop/benchlib"
)

func main() {
	serve := flag.String("serve-proxy", "", "internal: run a libzmq or gozmq4 proxy (child process)")
	device := flag.String("device", "", "internal: forwarder or streamer (with -serve-proxy)")
	front := flag.String("front", "", "internal: frontend endpoint (with -serve-proxy)")
	back := flag.String("back", "", "internal: backend endpoint (with -serve-proxy)")
	n16 := flag.Int("n16", 200_000, "messages per 16 B case")
	n1k := flag.Int("n1k", 50_000, "messages per 1 KiB case")
	timeout := flag.Duration("timeout", 60*time.Second, "bound of one case")
	sidecar := flag.String("sidecar", "", "zmq-sidecar binary (default: build it)")
	hwm := flag.Int("hwm", 0, "forwarder proxies' SNDHWM/RCVHWM: 0 = unbounded (no drops), -1 = each proxy's default")
	flag.Parse()
	if *serve != "" {
		if err := benchlib.ServeProxy(*serve, *device, *front, *back, *hwm, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "proxy:", err)
			os.Exit(1)
		}
		return
	}

	dir, err := os.MkdirTemp("", "bench-devices-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	env := benchlib.DeviceEnv{Sidecar: *sidecar, Self: self, Dir: dir}
	if env.Sidecar == "" {
		if env.Sidecar, err = buildSidecar(dir); err != nil {
			fatal(err)
		}
	}

	fmt.Printf("forwarder proxies' HWM: %d (0 = unbounded, -1 = defaults); libzmq producer and consumer everywhere\n\n", *hwm)
	fmt.Printf("%-25s %6s  %-11s %8s %8s %6s %11s %8s  %s\n", "device", "size", "proxy", "sent", "received", "recv%", "msgs/s", "MB/s", "note")
	failed := false
	for _, dev := range []string{"forwarder", "streamer"} {
		for _, size := range []int{16, 1024} {
			n := *n16
			if size > 16 {
				n = *n1k
			}
			for _, proxy := range []string{"zmq-sidecar", "libzmq", "gozmq4"} {
				label := "PUB->[forwarder]->SUB"
				if dev == "streamer" {
					label = "PUSH->[streamer]->PULL"
				}
				res, err := env.RunDevice(benchlib.DeviceCase{Proxy: proxy, Device: dev, Size: size, Count: n, Timeout: *timeout, ProxyHWM: *hwm})
				if err != nil {
					fmt.Printf("%-25s %6d  %-11s error: %v\n", label, size, proxy, err)
					failed = true
					continue
				}
				note := res.Problem
				if proxy == "gozmq4" && dev == "forwarder" {
					note = strings.TrimSpace("subscribe-all 0x01 sent to its XSUB by hand; " + note)
				}
				if res.Problem != "" && proxy != "gozmq4" {
					failed = true
				}
				fmt.Printf("%-25s %6d  %-11s %8d %8d %6.1f %11.0f %8.1f  %s\n", label, size, proxy, n, res.Received,
					float64(res.Received)*100/float64(n), res.MsgsPerSec(), res.MBPerSec(), note)
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}

// buildSidecar builds github.com/zmq-operator/zmq-operator/sidecar from the
// root module (this module's replace target).
func buildSidecar(dir string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/zmq-operator/zmq-operator").Output()
	if err != nil {
		return "", fmt.Errorf("locating the root module: %w", err)
	}
	bin := filepath.Join(dir, "zmq-sidecar")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/zmq-operator/zmq-operator/sidecar")
	cmd.Dir = strings.TrimSpace(string(out))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building zmq-sidecar: %w\n%s", err, msg)
	}
	return bin, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench-devices:", err)
	os.Exit(1)
}
