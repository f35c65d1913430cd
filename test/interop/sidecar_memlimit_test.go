package interop

// A device in a container with a memory limit: its Go soft memory limit
// (GOMEMLIMIT, set from the cgroup by internal/gomemlimit) keeps it alive
// while its queues hold most of that memory.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// memCgroup creates a memory cgroup limited to limit bytes (without swap)
// for the rest of the test, and returns a command prefix that runs a
// program in it (procOpts.wrap) and a function that reads its peak usage.
// It skips the test where it cannot: not root, or no memory controller
// (cgroup v1 at /sys/fs/cgroup/memory, or v2 with memory enabled).
func memCgroup(t *testing.T, limit int64) (wrap []string, peak func() int64) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a memory cgroup")
	}
	name := fmt.Sprintf("zmq-interop-%d-%d", os.Getpid(), time.Now().UnixNano())
	// The files to write, in order (the limit first: v1 wants memsw at
	// least as high); a missing swap file means no swap to limit.
	var dir, peakFile string
	var limits [][2]string
	lim := strconv.FormatInt(limit, 10)
	if st, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil && !st.IsDir() {
		dir = filepath.Join("/sys/fs/cgroup/memory", name)
		limits = [][2]string{{"memory.limit_in_bytes", lim}, {"memory.memsw.limit_in_bytes", lim}}
		peakFile = "memory.max_usage_in_bytes"
	} else if ctl, err := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control"); err == nil && strings.Contains(string(ctl), "memory") {
		dir = filepath.Join("/sys/fs/cgroup", name)
		limits = [][2]string{{"memory.max", lim}, {"memory.swap.max", "0"}}
		peakFile = "memory.peak"
	} else {
		t.Skip("no memory cgroup controller to limit the device with")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		// The process in it has exited: cleanups run in reverse order,
		// and the process's was registered after this one.
		for i := 0; ; i++ {
			err := os.Remove(dir)
			if err == nil || os.IsNotExist(err) {
				return
			}
			if i == 50 {
				t.Errorf("removing cgroup %s: %v", dir, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	for i, l := range limits {
		path := filepath.Join(dir, l[0])
		if _, err := os.Stat(path); i > 0 && os.IsNotExist(err) {
			continue // no swap accounting: no swap to limit
		}
		if err := os.WriteFile(path, []byte(l[1]), 0o644); err != nil {
			t.Fatalf("cgroup %s: %v", l[0], err)
		}
	}
	peak = func() int64 {
		b, err := os.ReadFile(filepath.Join(dir, peakFile))
		if err != nil {
			return -1 // memory.peak is new in Linux 5.19
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	return []string{"sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, dir}, peak
}

// TestSidecarDeviceMemoryLimit runs the Forwarder binary in a 192 MiB
// memory cgroup with an unbounded SNDHWM. A subscriber that does not read
// leaves it holding 60,000 messages of 1 KiB (59 MiB); then the subscriber
// reads as much as is published, 300,000 messages more, so that the device
// holds that backlog while every message it forwards becomes garbage. At
// the device's GOGC=400 the heap would grow to five times the backlog
// before a collection, past the limit, and the kernel would kill the
// device; with GOMEMLIMIT at 90% of the limit the collector runs sooner.
// The device must stay up and deliver every message.
func TestSidecarDeviceMemoryLimit(t *testing.T) {
	const (
		limit   = 192 << 20
		backlog = 60_000
		rounds  = 300 // of `batch` messages published, then received
		batch   = 1000
		size    = 1024
	)
	wrap, peak := memCgroup(t, limit)
	// The device's own settings, whatever this process's environment says.
	clean := procOpts{wrap: wrap, unset: []string{"GOMEMLIMIT", "AUTOMEMLIMIT", "GOGC"}}
	dev, front, back := startDeviceProcOpts(t, clean, "forwarder", "XSUB", "XPUB", func(c *zmqconfig.Config) {
		unbounded := int32(0)
		c.Sockets[1].Options.SndHWM = &unbounded
	})
	want := fmt.Sprintf("GOMEMLIMIT=%d", limit*9/10)
	if out := dev.out.String(); !strings.Contains(out, "GOMEMLIMIT is updated") || !strings.Contains(out, want) {
		t.Fatalf("the device did not log %s (90%% of its cgroup's %d):\n%s", want, limit, out)
	}
	alive := func(when string) {
		t.Helper()
		if !dev.running() {
			t.Fatalf("the device exited (%v) %s; peak memory %d MiB of %d MiB; output:\n%s", dev.cmd.ProcessState, when, peak()>>20, limit>>20, dev.out.String())
		}
	}

	sub := newLibzmqSock(t, czmq.SUB, func(s *czmq.Socket) { _ = s.SetRcvhwm(100); _ = s.SetSubscribe("") })
	pub := newLibzmqSock(t, czmq.PUB, func(s *czmq.Socket) { _ = s.SetSndhwm(0) })
	if err := sub.Connect(back); err != nil {
		t.Fatal(err)
	}
	if err := pub.Connect(front); err != nil {
		t.Fatal(err)
	}
	waitPeers(t, dev, 1, 1)
	warmUp(t, pub, sub)

	payload := bytes.Repeat([]byte{'x'}, size)
	publish := func(k int) {
		t.Helper()
		for i := 0; i < k; i++ {
			if _, err := pub.SendBytes(payload, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := 0
	receive := func(k int) {
		t.Helper()
		for i := 0; i < k; i++ {
			m, err := sub.RecvBytes(0)
			if err != nil {
				alive("while the subscriber read")
				t.Fatalf("the subscriber got %d messages, then: %v", got, err)
			}
			if len(m) == size {
				got++
			}
		}
	}
	// Counted from here: the publisher may have dropped warm-up messages
	// sent before the subscription reached it.
	received := func() float64 {
		return scScrape(t, dev.base).get("zmq_device_received_messages_total", "side", "frontend")
	}
	before := received()
	publish(backlog)
	scWaitFor(t, 60*time.Second, fmt.Sprintf("the device to receive %d messages", backlog), func() bool {
		alive("while it took the backlog")
		return received() >= before+backlog
	})
	held := peak()
	t.Logf("the device holds the backlog: peak memory %d MiB of its %d MiB", held>>20, limit>>20)
	if held >= 0 && held < backlog*size {
		t.Fatalf("peak memory %d is under the backlog's %d bytes: the device did not hold it", held, backlog*size)
	}
	_ = sub.SetRcvtimeo(5 * time.Second)
	for r := 0; r < rounds; r++ {
		publish(batch)
		receive(batch)
	}
	receive(backlog)
	alive("after forwarding")
	if want := backlog + rounds*batch; got != want {
		t.Errorf("the subscriber got %d of %d messages", got, want)
	}
	t.Logf("peak memory %d MiB of %d MiB; %d messages delivered", peak()>>20, limit>>20, got)
}
