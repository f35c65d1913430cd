// Command agent measures the zmq-sidecar agent's footprint: it starts the
// agent binary on a configuration of 10 sockets (5 bound by this process, 5
// connecting to peers it binds), probed every 5 s, lets it run, and reports
// the agent's resident memory and CPU use from /proc.
//
//	make build && go run ./hack/bench/agent --duration 60s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

func main() {
	bin := flag.String("sidecar", "bin/zmq-sidecar", "The zmq-sidecar binary.")
	duration := flag.Duration("duration", 60*time.Second, "How long to measure.")
	interval := flag.Duration("interval", 5*time.Second, "Probe interval.")
	flag.Parse()
	if err := run(*bin, *duration, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin string, duration, interval time.Duration) error {
	cfg := &zmqconfig.Config{Topology: "bench", Component: "c"}
	var socks []*zmtp.Socket
	defer func() {
		for _, s := range socks {
			s.Close()
		}
	}()
	for i := 0; i < 5; i++ {
		// A bound socket of the "application", probed for readiness.
		app, err := zmtp.NewSocket(zmtp.PULL)
		if err != nil {
			return err
		}
		socks = append(socks, app)
		port, err := freePort()
		if err != nil {
			return err
		}
		if _, err := app.Bind(fmt.Sprintf("tcp://127.0.0.1:%d", port)); err != nil {
			return err
		}
		cfg.Sockets = append(cfg.Sockets, zmqconfig.Socket{Name: fmt.Sprintf("in%d", i), Type: "PULL", Bind: true, Port: port,
			Endpoints: []string{fmt.Sprintf("tcp://*:%d", port)}})
		// A peer of a connecting socket, health-checked.
		peer, err := zmtp.NewSocket(zmtp.PUB)
		if err != nil {
			return err
		}
		socks = append(socks, peer)
		ep, err := peer.Bind("tcp://127.0.0.1:0")
		if err != nil {
			return err
		}
		cfg.Sockets = append(cfg.Sockets, zmqconfig.Socket{Name: fmt.Sprintf("sub%d", i), Type: "SUB", Endpoints: []string{ep}})
	}
	raw, err := cfg.Marshal()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "agent-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "topology.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "agent", "--config", path, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--probe-interval", interval.String())
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid

	time.Sleep(2 * time.Second) // start-up
	cpu0, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	start := time.Now()
	var maxRSS, scrapes int
	var lastScrape time.Time
	for time.Since(start) < duration {
		// Scrape like Prometheus would, every 15 s: sock_diag runs then.
		if time.Since(lastScrape) >= 15*time.Second {
			lastScrape = time.Now()
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
			if err != nil {
				return fmt.Errorf("scrape: %w", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			scrapes++
		}
		rss, err := rssKiB(pid)
		if err != nil {
			return err
		}
		maxRSS = max(maxRSS, rss)
		time.Sleep(time.Second)
	}
	cpu1, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	cpu := time.Duration(cpu1-cpu0) * time.Second / 100 // USER_HZ
	fmt.Printf("agent with %d sockets (5 bound, 5 peers), probe interval %s, %d scrapes, over %s:\n", len(cfg.Sockets), interval, scrapes, elapsed.Round(time.Second))
	fmt.Printf("  max RSS   %.1f MiB\n", float64(maxRSS)/1024)
	fmt.Printf("  CPU       %s (%.3f%% of one core)\n", cpu, 100*cpu.Seconds()/elapsed.Seconds())
	return nil
}

func freePort() (int32, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port), nil
}

// rssKiB reads VmRSS from /proc/<pid>/status.
func rssKiB(pid int) (int, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// cpuTicks reads utime+stime from /proc/<pid>/stat.
func cpuTicks(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return ut + st, nil
}
