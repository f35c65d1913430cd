package benchlib

// Device throughput: a producer and a consumer on loopback TCP with a proxy
// between them, so that only the proxy differs; the producer and the
// consumer are both libzmq or both pkg/zmtp (DeviceCase.Peers, peers.go).
// The proxies:
//
//   - "zmq-sidecar": our `zmq-sidecar device forwarder|streamer` binary;
//   - "libzmq":      zmq_proxy() through pebbe/zmq4;
//   - "gozmq4":      go-zeromq/zmq4's NewProxy.
//
// Every proxy runs in its own process (the last two in a child of the
// benchmark command, see ServeProxy), so a proxy that panics or stalls is
// reported as such and cannot take the measurement down with it.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gozmq "github.com/go-zeromq/zmq4"
	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// DeviceCase is one device measurement.
type DeviceCase struct {
	Proxy  string // "zmq-sidecar", "libzmq", "gozmq4"
	Device string // "forwarder" (PUB->[XSUB|XPUB]->SUB) or "streamer" (PUSH->[PULL|PUSH]->PULL)
	Size   int
	Count  int
	// Timeout bounds the case; the proxy is killed when it passes.
	Timeout time.Duration
	// ProxyHWM is the send and receive high-water mark of the proxy's
	// forwarder sockets: 0 is unbounded (no drops anywhere, so the
	// forwarder rows measure forwarding, not the drop policy); -1 keeps
	// each proxy's defaults. Streamers always keep the defaults (PUSH
	// blocks at its HWM instead of dropping).
	ProxyHWM int
	// Peers is the implementation of the producer and the consumer:
	// PeersLibzmq ("" too) or PeersZMTP.
	Peers string
}

// DeviceResult is a measured DeviceCase. Problem is set, and the rates are
// not meaningful, when the proxy panicked, stalled or exited.
type DeviceResult struct {
	DeviceCase
	Received int
	Elapsed  time.Duration
	// CPU is the proxy process's user plus system CPU time over its whole
	// life (start, warm-up, the run): a measure of its cost that load on
	// the machine disturbs less than the rates.
	CPU time.Duration
	// ProxyDrops is the messages a zmq-sidecar proxy counted as dropped
	// at its backend (zmq_device_dropped_messages_total), read after the
	// run; -1 for other proxies.
	ProxyDrops int64
	Problem    string
}

// CPUPerMsg is the proxy's CPU time per message sent, in microseconds.
func (r DeviceResult) CPUPerMsg() float64 {
	if r.Count == 0 {
		return 0
	}
	return float64(r.CPU.Microseconds()) / float64(r.Count)
}

// MsgsPerSec is the receive rate.
func (r DeviceResult) MsgsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Received) / r.Elapsed.Seconds()
}

// MBPerSec is the payload rate in MB/s (10^6 bytes).
func (r DeviceResult) MBPerSec() float64 { return r.MsgsPerSec() * float64(r.Size) / 1e6 }

// DeviceEnv says how to start the proxies.
type DeviceEnv struct {
	// Sidecar is the zmq-sidecar binary.
	Sidecar string
	// Self is a binary that runs ServeProxy when given
	// ServeArgs(proxy, device, front, back): the benchmark command itself.
	Self string
	// Dir holds configuration files.
	Dir string
}

// ServeArgs are the arguments under which Self runs ServeProxy.
func ServeArgs(proxy, device, front, back string, hwm int) []string {
	return []string{"-serve-proxy", proxy, "-device", device, "-front", front, "-back", back, "-hwm", strconv.Itoa(hwm)}
}

// ServeProxy binds front and back and runs a libzmq or a go-zeromq/zmq4
// proxy between them until the process is killed. It writes "ready\n" to
// ready once both sockets are bound.
func ServeProxy(proxy, device, front, back string, hwm int, ready io.Writer) error {
	if device != "forwarder" {
		hwm = -1
	}
	switch proxy {
	case "libzmq":
		ft, bt := czmq.PULL, czmq.PUSH
		if device == "forwarder" {
			ft, bt = czmq.XSUB, czmq.XPUB
		}
		f, err := czmq.NewSocket(ft)
		if err != nil {
			return err
		}
		b, err := czmq.NewSocket(bt)
		if err != nil {
			return err
		}
		if hwm >= 0 {
			for _, s := range []*czmq.Socket{f, b} {
				_ = s.SetSndhwm(hwm)
				_ = s.SetRcvhwm(hwm)
			}
		}
		if err := f.Bind(front); err != nil {
			return err
		}
		if err := b.Bind(back); err != nil {
			return err
		}
		fmt.Fprintln(ready, "ready")
		return czmq.Proxy(f, b, nil)
	case "gozmq4":
		ctx := context.Background()
		var f, b gozmq.Socket
		if device == "forwarder" {
			f, b = gozmq.NewXSub(ctx), gozmq.NewXPub(ctx)
			if hwm >= 0 {
				// zmq4's HWM option exists for PUB-like sockets only.
				_ = b.SetOption(gozmq.OptionHWM, hwm)
			}
		} else {
			f, b = gozmq.NewPull(ctx), gozmq.NewPush(ctx)
		}
		if err := f.Listen(front); err != nil {
			return err
		}
		if err := b.Listen(back); err != nil {
			return err
		}
		if device == "forwarder" {
			// zmq4's XPUB never hands the subscribers' subscriptions to
			// the proxy (go-zeromq/zmq4 #108, #136): without a subscribe-all
			// sent to the publishers by hand, nothing is forwarded. Send
			// it periodically so that it reaches publishers that connect
			// later.
			go func() {
				for {
					_ = f.Send(gozmq.NewMsg([]byte{1}))
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
		fmt.Fprintln(ready, "ready")
		return gozmq.NewProxy(ctx, f, b, nil).Run()
	case "relay":
		fmt.Fprintln(ready, "ready")
		return relay(strings.TrimPrefix(front, "tcp://"), strings.TrimPrefix(back, "tcp://"))
	}
	return fmt.Errorf("unknown proxy %q", proxy)
}

// relay is the ceiling of every proxy: not a ZeroMQ device but a TCP relay
// that pairs the first connection to front with the first to back and
// copies octets both ways (splice(2) on Linux), so the producer and the
// consumer speak ZMTP to each other, greeting and subscriptions included,
// as if connected directly. No device can deliver more than the producer
// and consumer manage through it.
func relay(front, back string) error {
	lf, err := net.Listen("tcp", front)
	if err != nil {
		return err
	}
	lb, err := net.Listen("tcp", back)
	if err != nil {
		return err
	}
	for {
		f, err := lf.Accept()
		if err != nil {
			return err
		}
		b, err := lb.Accept()
		if err != nil {
			return err
		}
		done := make(chan struct{}, 2)
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			done <- struct{}{}
		}
		go pipe(f, b)
		go pipe(b, f)
		<-done
		f.Close()
		b.Close()
		<-done
	}
}

// proxyProc is a running proxy process.
type proxyProc struct {
	cmd    *exec.Cmd
	stderr *tailBuffer
	exited chan struct{}
}

func (p *proxyProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to 3 s, then kills. It returns a
// problem description if the process had exited on its own or did not
// exit 0 (the zmq-sidecar's graceful shutdown).
func (p *proxyProc) stop(graceful bool) string {
	if !p.running() {
		return fmt.Sprintf("proxy exited during the run (%v): %s", p.cmd.ProcessState, p.stderr.last())
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if graceful && p.cmd.ProcessState.ExitCode() != 0 {
			return fmt.Sprintf("exit status %d after SIGTERM", p.cmd.ProcessState.ExitCode())
		}
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		if graceful {
			return "still running 3s after SIGTERM"
		}
	}
	return ""
}

// tailBuffer keeps the end of a process's stderr.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 64<<10 {
		t.b = t.b[len(t.b)-32<<10:]
	}
	return len(p), nil
}

// last returns the most telling line: a panic's first line, else the last.
func (t *tailBuffer) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "panic:") {
			return l
		}
	}
	return lines[len(lines)-1]
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startProxy starts c's proxy and returns once it has bound its sockets.
func (env DeviceEnv) startProxy(c DeviceCase) (p *proxyProc, front, back string, err error) {
	fp, err := freeLoopbackPort()
	if err != nil {
		return nil, "", "", err
	}
	bp, err := freeLoopbackPort()
	if err != nil {
		return nil, "", "", err
	}
	front, back = fmt.Sprintf("tcp://127.0.0.1:%d", fp), fmt.Sprintf("tcp://127.0.0.1:%d", bp)
	p = &proxyProc{stderr: &tailBuffer{}, exited: make(chan struct{})}
	var stdout io.ReadCloser
	var metrics string
	if c.Proxy == "zmq-sidecar" {
		ft, bt := "PULL", "PUSH"
		if c.Device == "forwarder" {
			ft, bt = "XSUB", "XPUB"
		}
		cfg := &zmqconfig.Config{Topology: "bench", Namespace: "bench", Component: c.Device,
			Device: strings.ToUpper(c.Device[:1]) + c.Device[1:],
			Sockets: []zmqconfig.Socket{
				{Name: zmqconfig.DeviceFrontend, Type: ft, Bind: true, Port: int32(fp), Endpoints: []string{front}},
				{Name: zmqconfig.DeviceBackend, Type: bt, Bind: true, Port: int32(bp), Endpoints: []string{back}},
			}}
		if c.Device == "forwarder" && c.ProxyHWM >= 0 {
			h := int32(c.ProxyHWM)
			for i := range cfg.Sockets {
				cfg.Sockets[i].Options.SndHWM, cfg.Sockets[i].Options.RcvHWM = &h, &h
			}
		}
		raw, err := cfg.Marshal()
		if err != nil {
			return nil, "", "", err
		}
		path := filepath.Join(env.Dir, fmt.Sprintf("%s-%d.json", c.Device, fp))
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			return nil, "", "", err
		}
		mp, err := freeLoopbackPort()
		if err != nil {
			return nil, "", "", err
		}
		metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", mp)
		p.cmd = exec.Command(env.Sidecar, "device", c.Device, "--config", path, "--listen", fmt.Sprintf("127.0.0.1:%d", mp))
	} else {
		p.cmd = exec.Command(env.Self, ServeArgs(c.Proxy, c.Device, front, back, c.ProxyHWM)...)
		if stdout, err = p.cmd.StdoutPipe(); err != nil {
			return nil, "", "", err
		}
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, "", "", err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	fail := func(err error) (*proxyProc, string, string, error) {
		_ = p.cmd.Process.Kill()
		<-p.exited
		return nil, "", "", fmt.Errorf("%w: %s", err, p.stderr.last())
	}
	if stdout != nil {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			return fail(fmt.Errorf("proxy did not start (%q, %v)", line, err))
		}
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		return p, front, back, nil
	}
	// The device serves /metrics once both sockets are bound.
	client := &http.Client{Timeout: time.Second}
	for i := 0; ; i++ {
		if resp, err := client.Get(metrics); err == nil {
			resp.Body.Close()
			return p, front, back, nil
		}
		if i == 500 || !p.running() {
			return fail(errors.New("zmq-sidecar device did not start"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RunDevice measures one case: a producer connected to the proxy's
// frontend sends Count messages of Size bytes, a consumer connected to its
// backend counts them; both are c.Peers (see openPeers). PUB/SUB queues are
// unbounded at both ends (the proxy keeps its own defaults unless
// ProxyHWM says otherwise); PUSH/PULL keep their defaults.
func (env DeviceEnv) RunDevice(c DeviceCase) (res DeviceResult, err error) {
	res = DeviceResult{DeviceCase: c}
	proxy, front, back, err := env.startProxy(c)
	if err != nil {
		return res, err
	}
	defer func() {
		if problem := proxy.stop(c.Proxy == "zmq-sidecar"); problem != "" && res.Problem == "" {
			res.Problem = problem
		}
		if ps := proxy.cmd.ProcessState; ps != nil {
			res.CPU = ps.UserTime() + ps.SystemTime()
		}
	}()
	watchdog := time.AfterFunc(c.Timeout, func() { _ = proxy.cmd.Process.Kill() })
	defer watchdog.Stop()

	snd, rcv, err := openPeers(c.Peers, c.Device, front, back)
	if err != nil {
		return res, err
	}
	defer snd.close()
	defer rcv.close()
	if !warmUp(snd, rcv, c.Device, proxy.running) {
		res.Problem = "no message got through the proxy during 3s of warm-up"
		return res, nil
	}
	drain(rcv)

	const idle = 2 * time.Second
	done := make(chan struct{})
	var last time.Time
	start := time.Now()
	go func() {
		defer close(done)
		n := 0
		for n < c.Count {
			m, err := rcv.recv(idle)
			if err != nil {
				last = time.Now().Add(-idle)
				break
			}
			if len(m) == c.Size {
				n++
				last = time.Now()
			}
		}
		res.Received = n
	}()
	payload := make([]byte, c.Size)
	var sendErr error
	for i := 0; i < c.Count; i++ {
		if err := snd.send(payload); err != nil {
			sendErr = fmt.Errorf("send %d of %d: %w", i, c.Count, err)
			break
		}
	}
	<-done
	res.Elapsed = last.Sub(start)
	res.ProxyDrops = scrapeDevice(proxy, `zmq_device_dropped_messages_total{side="backend"}`)
	runningBefore := proxy.running()
	// The producer leaves: a proxy must survive an upstream disconnect.
	_ = snd.close()
	time.Sleep(300 * time.Millisecond)
	switch {
	case runningBefore && !proxy.running():
		res.Problem = "exited when the producer disconnected after the run: " + proxy.stderr.last()
	case !proxy.running():
		// reported by stop
	case sendErr != nil:
		res.Problem = "stalled: " + sendErr.Error()
	case res.Received < c.Count && c.Device == "streamer":
		res.Problem = fmt.Sprintf("stalled: %d of %d received", res.Received, c.Count)
	}
	return res, nil
}
