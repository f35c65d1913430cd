// Command bench-worker-leaves measures how many messages a Streamer device
// loses when one of its workers leaves mid-stream, side by side for our
// `zmq-sidecar device streamer` binaries (typically one built before and one
// after requeue-on-peer-loss) and libzmq's zmq_proxy (pebbe/zmq4, in a
// child process):
//
//	libzmq PUSH producer -> [PULL frontend | proxy | PUSH backend] -> 3 libzmq PULL workers
//
// The producer and the workers are the same libzmq sockets for every proxy,
// with default high-water marks, so only the proxy differs. The producer
// sends -count messages of -size bytes at full speed, each starting with
// its 8-byte big-endian sequence number. Worker #0 leaves after about
// -leave-after messages: it stops reading, waits -leave-wait (100 ms) so
// that every queue towards it fills, as with a stuck or terminating pod,
// and closes with linger 0. The other workers read until the stream has
// been quiet for -quiet (2 s) after the producer finished, bounded by
// -timeout. Then
//
//	lost       = sent - |distinct sequence numbers received by all workers, the leaver included|
//	duplicates = receptions - distinct sequence numbers
//
// and, for our device, zmq_device_requeued_messages_total{side="backend"}
// is scraped from its metrics endpoint just before it is stopped. Just
// before worker #0 closes, the kernel's queues of its connection are read
// from /proc/net/tcp (Linux): "kernel" is the proxy's socket send queue +
// the worker's socket receive queue, in messages. It can be off by about
// one loopback segment (~63 messages of 1 KiB): bytes the receiver has not
// yet acknowledged are in both queues.
//
// What a departure can cost, and who can save it. When the leaver stops
// reading, messages for it pile up in four places: (1) the proxy's send
// queue for that peer (up to its SNDHWM, 1000 messages), (2) the proxy's
// kernel socket send buffer, (3) the leaver's kernel receive buffer and
// (4) the leaver's own libzmq receive queue (up to its RCVHWM). When the
// leaver closes, (3) and (4) die with it, and whatever (2) held had been
// accepted by the kernel for a connection that is now gone: ZeroMQ has no
// acknowledgements, so no implementation can tell which of those bytes
// arrived, and none can resend them without risking duplicates. Those are
// lost for every proxy, and how many they are depends on the kernel's
// buffer autotuning and on timing, so they vary from run to run. Only (1),
// and a message a proxy had taken out of its queue but not yet handed to the
// kernel, are the proxy's to keep: libzmq's zmq_proxy drops them with the
// pipe, the zmq-sidecar before requeue-on-peer-loss did too, and the one
// after it sends them to the remaining workers (counted as requeued). So the
// difference between the rows is the proxy's own queue; the floor common to
// all rows is the kernel-buffered messages and the leaver's unread queue.
// The last column of the summary, lost - kernel-buffered, is that unread
// queue plus what the proxy dropped. With default socket buffers, Linux
// autotunes loopback buffers to megabytes, so the kernel-buffered messages
// (thousands of 1 KiB messages) dominate the totals and vary between runs
// and between proxies (they depend on how each proxy writes).
//
// To isolate the proxy's share, shrink what dies inside the leaver with
// -leaver-rcvhwm 10 -leaver-rcvbuf 4096 (ZMQ_RCVHWM and ZMQ_RCVBUF of
// worker #0): then lost - kernel-buffered is what the proxy itself dropped
// plus at most those few messages.
//
// The proxies run round-robin (each round runs every proxy once), so that
// slow drifts of a shared machine spread over all of them:
//
//	cd test/interop && CGO_ENABLED=1 go run ./cmd/bench-worker-leaves \
//	    -sidecar /tmp/wl/zmq-sidecar-new,'zmq-sidecar (new)' \
//	    -sidecar /tmp/wl/zmq-sidecar-base,'zmq-sidecar (before)' -runs 5
//
// Without -sidecar those two binaries are used. Build them with
//
//	cd /work/main && CGO_ENABLED=0 go build -o /tmp/wl/zmq-sidecar-new ./sidecar
//	git worktree add /tmp/wl/base <commit> && (cd /tmp/wl/base && CGO_ENABLED=0 go build -o /tmp/wl/zmq-sidecar-base ./sidecar)
//	git worktree remove --force /tmp/wl/base
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zmq-operator/zmq-operator/test/interop/benchlib"
)

// proxySpec is one column of the comparison.
type proxySpec struct {
	label   string
	proxy   string // "zmq-sidecar" or "libzmq"
	sidecar string // binary, for "zmq-sidecar"
}

// sidecarFlags collects repeated -sidecar path[,label] flags.
type sidecarFlags []proxySpec

func (s *sidecarFlags) String() string {
	var parts []string
	for _, p := range *s {
		parts = append(parts, p.sidecar+","+p.label)
	}
	return strings.Join(parts, " ")
}

func (s *sidecarFlags) Set(v string) error {
	path, label, ok := strings.Cut(v, ",")
	if path == "" {
		return fmt.Errorf("empty path in %q", v)
	}
	if !ok || label == "" {
		label = "zmq-sidecar " + path
	}
	*s = append(*s, proxySpec{label: label, proxy: "zmq-sidecar", sidecar: path})
	return nil
}

func main() {
	serve := flag.String("serve-proxy", "", "internal: run a libzmq proxy (child process)")
	device := flag.String("device", "", "internal: streamer (with -serve-proxy)")
	front := flag.String("front", "", "internal: frontend endpoint (with -serve-proxy)")
	back := flag.String("back", "", "internal: backend endpoint (with -serve-proxy)")
	hwm := flag.Int("hwm", -1, "internal: proxy HWM (with -serve-proxy)")
	var sidecars sidecarFlags
	flag.Var(&sidecars, "sidecar", "zmq-sidecar binary and its label, `path[,label]`; repeatable (default: /tmp/wl/zmq-sidecar-new and /tmp/wl/zmq-sidecar-base)")
	libzmq := flag.Bool("libzmq", true, "also measure libzmq's zmq_proxy")
	runs := flag.Int("runs", 5, "rounds; each runs every proxy once")
	count := flag.Int("count", 200_000, "messages sent per run")
	size := flag.Int("size", 1024, "message size in bytes (>= 8)")
	workers := flag.Int("workers", 3, "PULL workers; worker #0 leaves")
	leaveAfter := flag.Int("leave-after", 0, "messages worker #0 receives before it leaves (default: 20% of count / workers)")
	leaveWait := flag.Duration("leave-wait", 100*time.Millisecond, "how long worker #0 stays connected without reading before it closes")
	leaverHWM := flag.Int("leaver-rcvhwm", 0, "ZMQ_RCVHWM of worker #0 (0: libzmq's default, 1000)")
	leaverBuf := flag.Int("leaver-rcvbuf", 0, "ZMQ_RCVBUF of worker #0 in bytes (0: the kernel's autotuning)")
	quiet := flag.Duration("quiet", 2*time.Second, "the stream is over once nothing arrived for this long after the producer finished")
	timeout := flag.Duration("timeout", 90*time.Second, "bound of one run")
	flag.Parse()
	if *serve != "" {
		if err := benchlib.ServeProxy(*serve, *device, *front, *back, *hwm, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "proxy:", err)
			os.Exit(1)
		}
		return
	}
	if len(sidecars) == 0 {
		sidecars = sidecarFlags{
			{label: "zmq-sidecar (new)", proxy: "zmq-sidecar", sidecar: "/tmp/wl/zmq-sidecar-new"},
			{label: "zmq-sidecar (before)", proxy: "zmq-sidecar", sidecar: "/tmp/wl/zmq-sidecar-base"},
		}
	}
	for _, s := range sidecars {
		if _, err := os.Stat(s.sidecar); err != nil {
			fatal(fmt.Errorf("%s: %w", s.label, err))
		}
	}
	specs := []proxySpec(sidecars)
	if *libzmq {
		specs = append(specs, proxySpec{label: "libzmq zmq_proxy", proxy: "libzmq"})
	}
	if *leaveAfter <= 0 {
		*leaveAfter = *count / 5 / *workers
	}

	dir, err := os.MkdirTemp("", "bench-worker-leaves-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		fatal(err)
	}

	fmt.Printf("Streamer, libzmq PUSH producer -> proxy -> %d libzmq PULL workers; %d messages of %d B; worker #0 stops reading after %d, closes (linger 0) %v later; default HWMs\n\n",
		*workers, *count, *size, *leaveAfter, *leaveWait)
	fmt.Printf("%-22s %4s %8s %8s %6s %5s %9s %11s %8s %8s  %-22s %s\n", "proxy", "run", "sent", "received", "lost", "dups", "requeued", "kernel", "left at", "elapsed", "per worker", "note")
	lost := make(map[string][]int)
	beyond := make(map[string][]string) // lost - kernel-buffered, per run
	dups := make(map[string]int)
	problems := 0
	for run := 1; run <= *runs; run++ {
		for _, sp := range specs {
			env := benchlib.DeviceEnv{Sidecar: sp.sidecar, Self: self, Dir: dir}
			res, err := env.RunWorkerLeaves(benchlib.WorkerLeavesCase{
				Proxy: sp.proxy, Size: *size, Count: *count, Workers: *workers,
				LeaveAfter: *leaveAfter, LeaveWait: *leaveWait, LeaverRcvHWM: *leaverHWM, LeaverRcvBuf: *leaverBuf, Quiet: *quiet, Timeout: *timeout,
			})
			if err != nil {
				fmt.Printf("%-22s %4d error: %v\n", sp.label, run, err)
				problems++
				continue
			}
			requeued := "-"
			if res.Requeued >= 0 {
				requeued = strconv.FormatInt(res.Requeued, 10)
			}
			per := make([]string, len(res.PerWorker))
			for i, n := range res.PerWorker {
				per[i] = strconv.Itoa(n)
			}
			kernel, over := "?", "?"
			if res.KernelSend >= 0 && res.KernelRecv >= 0 {
				ks, kr := int(benchlib.MessagesInBytes(res.KernelSend, res.Size)), int(benchlib.MessagesInBytes(res.KernelRecv, res.Size))
				kernel, over = fmt.Sprintf("%d+%d", ks, kr), strconv.Itoa(res.Lost-ks-kr)
			}
			fmt.Printf("%-22s %4d %8d %8d %6d %5d %9s %11s %8s %8s  %-22s %s\n", sp.label, run, res.Sent, res.Received, res.Lost, res.Duplicates,
				requeued, kernel, res.LeftAt.Round(time.Millisecond), res.Elapsed.Round(time.Millisecond), strings.Join(per, "/"), res.Problem)
			if res.Problem != "" {
				problems++
				continue
			}
			lost[sp.label] = append(lost[sp.label], res.Lost)
			dups[sp.label] += res.Duplicates
			beyond[sp.label] = append(beyond[sp.label], over)
		}
	}

	fmt.Printf("\nLost messages per run (round-robin order; runs with a problem are left out):\n\n")
	fmt.Println("| proxy | lost per run | min | median | max | duplicates (total) | lost - kernel-buffered, per run |")
	fmt.Println("|---|---|---:|---:|---:|---:|---|")
	for _, sp := range specs {
		l := lost[sp.label]
		if len(l) == 0 {
			fmt.Printf("| %s | (no valid run) | | | | | |\n", sp.label)
			continue
		}
		cells := make([]string, len(l))
		for i, n := range l {
			cells[i] = strconv.Itoa(n)
		}
		sorted := slices.Clone(l)
		slices.Sort(sorted)
		fmt.Printf("| %s | %s | %d | %s | %d | %d | %s |\n", sp.label, strings.Join(cells, ", "), sorted[0], median(sorted), sorted[len(sorted)-1], dups[sp.label], strings.Join(beyond[sp.label], ", "))
	}
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "\n%d run(s) had a problem\n", problems)
		os.Exit(1)
	}
}

// median of sorted values; the mean of the middle two for an even count.
func median(sorted []int) string {
	n := len(sorted)
	if n%2 == 1 {
		return strconv.Itoa(sorted[n/2])
	}
	return strconv.FormatFloat(float64(sorted[n/2-1]+sorted[n/2])/2, 'f', -1, 64)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench-worker-leaves:", err)
	os.Exit(1)
}
