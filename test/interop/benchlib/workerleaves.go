package benchlib

// A worker leaves a Streamer mid-stream: a libzmq PUSH producer feeds a
// proxy's PULL frontend, the proxy's PUSH backend load-balances to libzmq
// PULL workers, and worker #0 stops reading part-way through, lets the
// queues towards it fill, then closes. Every message carries a sequence
// number, so what the workers received together tells how many messages the
// departure cost. See cmd/bench-worker-leaves for what the numbers mean.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	czmq "github.com/pebbe/zmq4"
)

// WorkerLeavesCase is one run.
type WorkerLeavesCase struct {
	Proxy   string // "zmq-sidecar" (DeviceEnv.Sidecar) or "libzmq" (zmq_proxy in a child)
	Size    int    // message size in bytes, at least 8 (the big-endian sequence number)
	Count   int    // messages the producer sends
	Workers int    // PULL workers; worker #0 leaves
	// LeaveAfter is how many stream messages worker #0 receives before it
	// stops reading.
	LeaveAfter int
	// LeaveWait is how long worker #0 stays connected without reading
	// before it closes (linger 0), so that the queues towards it fill as
	// with a stuck or terminating pod.
	LeaveWait time.Duration
	// LeaverRcvHWM and LeaverRcvBuf, when positive, set ZMQ_RCVHWM
	// (messages) and ZMQ_RCVBUF (bytes) on worker #0 only. Small values
	// keep what dies inside the leaver itself (its libzmq receive queue
	// and its kernel receive buffer) to a handful of messages, so that the
	// loss left is the proxy's own.
	LeaverRcvHWM, LeaverRcvBuf int
	// Quiet ends the run once nothing has arrived for this long after the
	// producer finished.
	Quiet time.Duration
	// Timeout bounds the run; the proxy is killed when it passes.
	Timeout time.Duration
}

// WorkerLeavesResult is a measured WorkerLeavesCase.
type WorkerLeavesResult struct {
	WorkerLeavesCase
	Sent       int   // messages the producer's Send accepted
	Received   int   // distinct sequence numbers received by all workers together
	Lost       int   // Sent - Received
	Duplicates int   // messages received more than once (all receptions - Received)
	PerWorker  []int // stream messages each worker received, duplicates included
	// LeftAt is when worker #0 closed, since the first stream message was
	// sent; zero if it never received LeaveAfter messages.
	LeftAt  time.Duration
	Elapsed time.Duration // first send to last reception
	// KernelSend and KernelRecv are what the kernel held for worker #0's
	// connection just before it closed, in bytes (from /proc/net/tcp): the
	// proxy's socket send queue and the worker's socket receive queue; -1
	// if unknown. Their sum is the kernel-buffered part of the stream.
	KernelSend, KernelRecv int
	// Requeued is the device's zmq_device_requeued_messages_total{side="backend"}
	// scraped just before it is stopped; -1 when the proxy does not export
	// it (libzmq, or a zmq-sidecar that predates the metric).
	Requeued int64
	Problem  string
}

// RunWorkerLeaves measures one case.
func (env DeviceEnv) RunWorkerLeaves(c WorkerLeavesCase) (res WorkerLeavesResult, err error) {
	res = WorkerLeavesResult{WorkerLeavesCase: c, Requeued: -1, KernelSend: -1, KernelRecv: -1}
	if c.Size < 8 {
		return res, fmt.Errorf("size %d: a message needs 8 bytes for its sequence number", c.Size)
	}
	if c.Workers < 2 {
		return res, fmt.Errorf("%d workers: one leaves, so at least 2 are needed", c.Workers)
	}
	proxy, front, back, err := env.startProxy(DeviceCase{Proxy: c.Proxy, Device: "streamer", Size: c.Size, Count: c.Count, Timeout: c.Timeout, ProxyHWM: -1})
	if err != nil {
		return res, err
	}
	stopped := false
	stopProxy := func() {
		if stopped {
			return
		}
		stopped = true
		if problem := proxy.stop(c.Proxy == "zmq-sidecar"); problem != "" && res.Problem == "" {
			res.Problem = problem
		}
	}
	defer stopProxy()
	watchdog := time.AfterFunc(c.Timeout, func() { _ = proxy.cmd.Process.Kill() })
	defer watchdog.Stop()

	snd, err := czmq.NewSocket(czmq.PUSH)
	if err != nil {
		return res, err
	}
	defer snd.Close()
	_ = snd.SetLinger(0)
	// A stalled proxy turns into a send error instead of a hang.
	_ = snd.SetSndtimeo(5 * time.Second)

	workers := make([]*wlWorker, c.Workers)
	for i := range workers {
		s, err := czmq.NewSocket(czmq.PULL)
		if err != nil {
			return res, err
		}
		_ = s.SetLinger(0)
		_ = s.SetRcvtimeo(50 * time.Millisecond)
		if i == 0 && c.LeaverRcvHWM > 0 {
			_ = s.SetRcvhwm(c.LeaverRcvHWM)
		}
		if i == 0 && c.LeaverRcvBuf > 0 {
			_ = s.SetRcvbuf(c.LeaverRcvBuf)
		}
		if err := s.Connect(back); err != nil {
			s.Close()
			return res, err
		}
		workers[i] = &wlWorker{sock: s, size: c.Size, kernelSend: -1, kernelRecv: -1}
		if i == 0 {
			// Worker #0 connects alone, so that its connection is the only
			// one to the backend port: that tells its local port.
			workers[0].port, workers[0].backPort = leaverPort(back)
		}
	}
	if err := snd.Connect(front); err != nil {
		return res, err
	}

	var (
		stop     atomic.Bool
		lastRecv atomic.Int64 // UnixNano of the newest stream message anywhere
		warmed   atomic.Int32 // workers that received a warm-up message
		start    time.Time    // set before the first stream message is sent
		started  = make(chan struct{})
		wg       sync.WaitGroup
	)
	for i, w := range workers {
		leaveAfter := -1
		if i == 0 {
			leaveAfter = c.LeaveAfter
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(&stop, &lastRecv, &warmed, leaveAfter, c.LeaveWait, started, &start)
		}()
	}
	closeWorkers := func() {
		stop.Store(true)
		wg.Wait()
		for _, w := range workers {
			if w.sock != nil {
				w.sock.Close()
			}
		}
	}
	// Closed before the proxy stops, so that no worker reconnects to it.
	workersClosed := false
	defer func() {
		if !workersClosed {
			closeWorkers()
		}
	}()

	// Warm up until every worker is connected through the proxy: the
	// load balancer must know all of them before the stream starts.
	warm := false
	for i := 0; i < 500 && proxy.running(); i++ {
		if int(warmed.Load()) == c.Workers {
			warm = true
			break
		}
		_, _ = snd.Send("w", czmq.DONTWAIT)
		time.Sleep(10 * time.Millisecond)
	}
	if !warm {
		res.Problem = fmt.Sprintf("only %d of %d workers got a warm-up message in 5s", warmed.Load(), c.Workers)
		return res, nil
	}
	time.Sleep(200 * time.Millisecond) // the remaining warm-up messages drain

	payload := make([]byte, c.Size)
	start = time.Now()
	lastRecv.Store(start.UnixNano())
	close(started)
	var sendErr error
	for i := 0; i < c.Count; i++ {
		binary.BigEndian.PutUint64(payload, uint64(i))
		if _, err := snd.SendBytes(payload, 0); err != nil {
			sendErr = fmt.Errorf("send %d of %d: %w", i, c.Count, err)
			break
		}
		res.Sent++
	}
	deadline := start.Add(c.Timeout)
	for time.Since(time.Unix(0, lastRecv.Load())) < c.Quiet && time.Now().Before(deadline) && proxy.running() {
		time.Sleep(50 * time.Millisecond)
	}
	res.Elapsed = time.Unix(0, lastRecv.Load()).Sub(start)
	if c.Proxy == "zmq-sidecar" && proxy.running() {
		res.Requeued = scrapeRequeued(proxy)
	}
	closeWorkers()
	workersClosed = true
	running := proxy.running()
	stopProxy()

	seen := make([]uint8, c.Count)
	total := 0
	for i, w := range workers {
		res.PerWorker = append(res.PerWorker, len(w.seqs))
		total += len(w.seqs)
		for _, q := range w.seqs {
			if q < uint64(c.Count) && seen[q] < 255 {
				seen[q]++
			}
		}
		if i == 0 && w.left > 0 {
			res.LeftAt = w.left
			res.KernelSend, res.KernelRecv = w.kernelSend, w.kernelRecv
		}
	}
	for _, n := range seen {
		if n > 0 {
			res.Received++
		}
	}
	res.Lost = res.Sent - res.Received
	res.Duplicates = total - res.Received
	switch {
	case res.Problem != "":
	case !running:
		res.Problem = "proxy exited during the run: " + proxy.stderr.last()
	case sendErr != nil:
		res.Problem = "stalled: " + sendErr.Error()
	case res.LeftAt == 0:
		res.Problem = fmt.Sprintf("worker #0 received only %d messages and never left", res.PerWorker[0])
	case time.Now().After(deadline):
		res.Problem = "timed out before the stream went quiet"
	}
	return res, nil
}

// wlWorker is one PULL worker; its socket is used by its goroutine only.
type wlWorker struct {
	sock *czmq.Socket
	size int
	seqs []uint64      // sequence numbers in arrival order
	left time.Duration // when it closed, since start (the leaver only)
	// The leaver's local and the backend's port (0 if unknown), and the
	// bytes the kernel held for its connection just before it closed.
	port, backPort         int
	kernelSend, kernelRecv int
}

// run receives until stop is set. A leaver (leaveAfter >= 0) stops reading
// after leaveAfter stream messages, waits, and closes its socket.
func (w *wlWorker) run(stop *atomic.Bool, lastRecv *atomic.Int64, warmed *atomic.Int32, leaveAfter int, wait time.Duration, started <-chan struct{}, start *time.Time) {
	gotWarm := false
	for !stop.Load() {
		m, err := w.sock.RecvBytes(0)
		if err != nil {
			continue // timeout: look at stop again
		}
		if len(m) != w.size {
			if !gotWarm {
				gotWarm = true
				warmed.Add(1)
			}
			continue
		}
		w.seqs = append(w.seqs, binary.BigEndian.Uint64(m))
		lastRecv.Store(time.Now().UnixNano())
		if leaveAfter >= 0 && len(w.seqs) >= leaveAfter {
			// Stuck: nothing more is read, so the worker's own queue, the
			// kernel buffers in both directions and the proxy's queue
			// towards it fill up. Then it goes away without lingering.
			time.Sleep(wait)
			if w.port != 0 {
				w.kernelSend, w.kernelRecv = kernelQueued(w.port, w.backPort)
			}
			w.sock.Close()
			w.sock = nil
			<-started
			w.left = time.Since(*start)
			return
		}
	}
}

// scrapeRequeued reads zmq_device_requeued_messages_total{side="backend"}
// from the device's metrics endpoint; -1 if absent or unreachable.
func scrapeRequeued(p *proxyProc) int64 {
	return scrapeDevice(p, `zmq_device_requeued_messages_total{side="backend"}`)
}

// scrapeDevice reads one sample (name with its labels, as exposed) from a
// zmq-sidecar device's metrics endpoint; -1 if absent, unreachable or not
// a zmq-sidecar.
func scrapeDevice(p *proxyProc, name string) int64 {
	var listen string
	for i, a := range p.cmd.Args {
		if a == "--listen" && i+1 < len(p.cmd.Args) {
			listen = p.cmd.Args[i+1]
		}
	}
	if listen == "" {
		return -1
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + listen + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, name)), 64)
		if err != nil {
			return -1
		}
		return int64(v)
	}
	return -1
}

// MessagesInBytes converts a byte count of the stream to messages of size bytes in their
// ZMTP framing (a 2-byte short or a 9-byte long frame header), rounded
// to the nearest.
func MessagesInBytes(n, size int) float64 {
	hdr := 2
	if size > 255 {
		hdr = 9
	}
	return math.Round(float64(n) / float64(size+hdr))
}

// leaverPort waits up to 2 s for the one established TCP connection to the
// port of endpoint back (tcp://host:port) and returns its local port and
// back's port; zeros if there is not exactly one.
func leaverPort(back string) (local, backPort int) {
	_, ps, ok := strings.Cut(strings.TrimPrefix(back, "tcp://"), ":")
	if !ok {
		return 0, 0
	}
	backPort, err := strconv.Atoi(ps)
	if err != nil {
		return 0, 0
	}
	for i := 0; i < 200; i++ {
		var found []int
		for _, e := range tcpTable() {
			if e.remote == backPort && e.established {
				found = append(found, e.local)
			}
		}
		if len(found) == 1 {
			return found[0], backPort
		}
		if len(found) > 1 {
			return 0, 0
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, 0
}

// kernelQueued returns the proxy's socket send queue towards the worker at
// local port port and that worker's socket receive queue, in bytes; -1
// for one not found.
func kernelQueued(port, backPort int) (send, recv int) {
	send, recv = -1, -1
	for _, e := range tcpTable() {
		switch {
		case e.local == backPort && e.remote == port:
			send = e.txQueue
		case e.local == port && e.remote == backPort:
			recv = e.rxQueue
		}
	}
	return send, recv
}

type tcpEntry struct {
	local, remote    int
	established      bool
	txQueue, rxQueue int
}

// tcpTable parses /proc/net/tcp and /proc/net/tcp6 (Linux; empty
// elsewhere). Loopback connections show both of their ends.
func tcpTable() []tcpEntry {
	var out []tcpEntry
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			// sl local_address rem_address st tx_queue:rx_queue ...
			fs := strings.Fields(line)
			if len(fs) < 5 {
				continue
			}
			port := func(addr string) int {
				i := strings.LastIndexByte(addr, ':')
				v, _ := strconv.ParseUint(addr[i+1:], 16, 16)
				return int(v)
			}
			tx, rx, _ := strings.Cut(fs[4], ":")
			t, _ := strconv.ParseUint(tx, 16, 32)
			r, _ := strconv.ParseUint(rx, 16, 32)
			out = append(out, tcpEntry{local: port(fs[1]), remote: port(fs[2]), established: fs[3] == "01", txQueue: int(t), rxQueue: int(r)})
		}
	}
	return out
}
