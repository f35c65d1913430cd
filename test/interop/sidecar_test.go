package interop

// Helpers that run the zmq-sidecar binary as a black box: it is built once
// per test run, each test starts its own agent or device subprocess on
// loopback with a configuration file in a temporary directory, and stops it
// with SIGTERM at the end, requiring a clean exit (graceful shutdown is an
// acceptance point).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gozmq "github.com/go-zeromq/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

var (
	sidecarOnce sync.Once
	sidecarPath string
	sidecarErr  error
	sidecarDir  string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sidecarDir != "" {
		_ = os.RemoveAll(sidecarDir)
	}
	os.Exit(code)
}

// sidecarBinary builds zmq-sidecar once (CGO_ENABLED=0, from the root
// module this module replaces) or uses $ZMQ_SIDECAR_BIN.
func sidecarBinary(t *testing.T) string {
	t.Helper()
	sidecarOnce.Do(func() {
		if p := os.Getenv("ZMQ_SIDECAR_BIN"); p != "" {
			sidecarPath = p
			return
		}
		sidecarDir, sidecarErr = os.MkdirTemp("", "zmq-sidecar-interop-")
		if sidecarErr != nil {
			return
		}
		sidecarPath, sidecarErr = BuildSidecar(sidecarDir)
	})
	if sidecarErr != nil {
		t.Fatalf("building zmq-sidecar: %v", sidecarErr)
	}
	return sidecarPath
}

// BuildSidecar builds github.com/zmq-operator/zmq-operator/sidecar into dir
// from the root module (located with `go list -m`, i.e. through this
// module's replace directive) and returns the binary's path.
func BuildSidecar(dir string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/zmq-operator/zmq-operator").Output()
	if err != nil {
		return "", fmt.Errorf("locating the root module: %w", err)
	}
	root := strings.TrimSpace(string(out))
	bin := filepath.Join(dir, "zmq-sidecar")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/zmq-operator/zmq-operator/sidecar")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in %s: %w\n%s", root, err, msg)
	}
	return bin, nil
}

// syncBuffer collects a subprocess's output for the test log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sidecarProc is a running zmq-sidecar.
type sidecarProc struct {
	name     string
	stopOnce sync.Once
	cmd      *exec.Cmd
	out      *syncBuffer
	exited   chan struct{}
	base     string // http://127.0.0.1:port of its metrics listener
}

// running reports whether the process has not exited.
func (p *sidecarProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and requires exit status 0 within 5 s (graceful
// shutdown). It runs at cleanup if the test did not call it.
func (p *sidecarProc) stop(t *testing.T) {
	t.Helper()
	p.stopOnce.Do(func() {
		if !p.running() {
			t.Errorf("zmq-sidecar %s exited early (%v); output:\n%s", p.name, p.cmd.ProcessState, p.out.String())
			return
		}
		sent := time.Now()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			if code := p.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("zmq-sidecar %s exited with %d after SIGTERM; output:\n%s", p.name, code, p.out.String())
			} else {
				t.Logf("zmq-sidecar %s exited 0, %s after SIGTERM", p.name, time.Since(sent).Round(time.Millisecond))
			}
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("zmq-sidecar %s still running 5s after SIGTERM; output:\n%s", p.name, p.out.String())
		}
		if t.Failed() {
			t.Logf("zmq-sidecar %s output:\n%s", p.name, p.out.String())
		}
	})
}

// scWriteConfig writes cfg as the mounted topology.json would be.
func scWriteConfig(t *testing.T, cfg *zmqconfig.Config) string {
	t.Helper()
	raw, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), zmqconfig.FileName)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startSidecar runs `zmq-sidecar args... --listen 127.0.0.1:P` until the
// test ends, waits until its HTTP listener answers at path, and at cleanup
// sends SIGTERM and requires exit status 0 within 5 s.
func startSidecar(t *testing.T, readyPath string, args ...string) *sidecarProc {
	t.Helper()
	return startSidecarOpts(t, procOpts{}, readyPath, args...)
}

// procOpts changes how startSidecarOpts runs the binary.
type procOpts struct {
	wrap  []string // a command that execs the binary and its arguments, appended to it
	env   []string // added to the environment ("K=V")
	unset []string // removed from the environment (names)
}

// startSidecarOpts is startSidecar with o applied.
func startSidecarOpts(t *testing.T, o procOpts, readyPath string, args ...string) *sidecarProc {
	t.Helper()
	bin := sidecarBinary(t)
	listen := fmt.Sprintf("127.0.0.1:%d", scFreePort(t))
	p := &sidecarProc{out: &syncBuffer{}, exited: make(chan struct{}), base: "http://" + listen}
	argv := append(append(append([]string(nil), o.wrap...), bin), append(args, "--listen", listen)...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
	if len(o.env)+len(o.unset) > 0 {
		p.cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return slices.Contains(o.unset, strings.SplitN(kv, "=", 2)[0])
		})
		p.cmd.Env = append(p.cmd.Env, o.env...)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	p.name = args[0]
	t.Cleanup(func() { p.stop(t) })
	scWaitFor(t, 10*time.Second, "zmq-sidecar "+args[0]+" listening", func() bool {
		if !p.running() {
			t.Fatalf("zmq-sidecar %s exited: %v\n%s", args[0], p.cmd.ProcessState, p.out.String())
		}
		code, _, err := scGet(p.base + readyPath)
		return err == nil && code != 0
	})
	return p
}

// startAgentProc runs `zmq-sidecar agent` on cfg with the given probe
// interval and a 1 s probe timeout.
func startAgentProc(t *testing.T, cfg *zmqconfig.Config, interval time.Duration) *sidecarProc {
	t.Helper()
	return startSidecar(t, "/healthz", "agent", "--config", scWriteConfig(t, cfg),
		"--probe-interval", interval.String(), "--probe-timeout", "1s")
}

// startDeviceProc runs `zmq-sidecar device kind` with its frontend and
// backend bound on loopback ports, and returns the process and the two
// endpoints. tweak may change the configuration (socket options).
func startDeviceProc(t *testing.T, kind, frontType, backType string, tweak func(*zmqconfig.Config)) (p *sidecarProc, front, back string) {
	t.Helper()
	return startDeviceProcOpts(t, procOpts{}, kind, frontType, backType, tweak)
}

// startDeviceProcOpts is startDeviceProc with o applied.
func startDeviceProcOpts(t *testing.T, o procOpts, kind, frontType, backType string, tweak func(*zmqconfig.Config)) (p *sidecarProc, front, back string) {
	t.Helper()
	fp, bp := scFreePort(t), scFreePort(t)
	cfg := &zmqconfig.Config{Topology: "interop", Namespace: "ns", Component: kind,
		Device: strings.ToUpper(kind[:1]) + kind[1:], // "Forwarder", as the operator writes it
		Sockets: []zmqconfig.Socket{
			{Name: zmqconfig.DeviceFrontend, Type: frontType, Bind: true, Port: fp, Endpoints: []string{fmt.Sprintf("tcp://127.0.0.1:%d", fp)}},
			{Name: zmqconfig.DeviceBackend, Type: backType, Bind: true, Port: bp, Endpoints: []string{fmt.Sprintf("tcp://127.0.0.1:%d", bp)}},
		}}
	if tweak != nil {
		tweak(cfg)
	}
	// The device serves /metrics only after both sockets are bound.
	p = startSidecarOpts(t, o, "/metrics", "device", kind, "--config", scWriteConfig(t, cfg))
	return p, cfg.Sockets[0].Endpoints[0], cfg.Sockets[1].Endpoints[0]
}

// scFreePort returns a loopback TCP port that was free a moment ago.
func scFreePort(t *testing.T) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// scTransport is scClient's own transport, so that countFDs can close its
// idle keep-alive connections: they are fds of this process too.
var scTransport = &http.Transport{}

var scClient = &http.Client{Timeout: 5 * time.Second, Transport: scTransport}

// scGet returns the status and body of a GET.
func scGet(url string) (int, string, error) {
	resp, err := scClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), err
}

// scWaitFor polls cond every 10 ms until it holds or d has passed (then
// the test fails). It returns how long it waited.
func scWaitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// sample is one line of a Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type samples []sample

// scScrape reads base+"/metrics".
func scScrape(t *testing.T, base string) samples {
	t.Helper()
	resp, err := scClient.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out samples
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metric line %q", line)
		}
		s := sample{labels: map[string]string{}, value: v}
		head := line[:i]
		if j := strings.IndexByte(head, '{'); j >= 0 {
			s.name = head[:j]
			for _, kv := range splitLabels(head[j+1 : len(head)-1]) {
				k, val, _ := strings.Cut(kv, "=")
				uq, err := strconv.Unquote(val)
				if err != nil {
					t.Fatalf("bad label %q in %q", kv, line)
				}
				s.labels[k] = uq
			}
		} else {
			s.name = head
		}
		out = append(out, s)
	}
	return out
}

// splitLabels splits `a="x",b="y,z"` at the commas outside quotes.
func splitLabels(s string) []string {
	var parts []string
	inQ, esc, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			inQ = !inQ
		case c == ',' && !inQ:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		parts = append(parts, s[start:])
	}
	return parts
}

// find returns the samples of name whose labels include kv (name, value
// pairs).
func (ss samples) find(name string, kv ...string) samples {
	var out samples
next:
	for _, s := range ss {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if s.labels[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// get returns the value of the one sample of name with labels kv, or -1
// when there is none.
func (ss samples) get(name string, kv ...string) float64 {
	f := ss.find(name, kv...)
	if len(f) == 0 {
		return -1
	}
	return f[0].value
}

// bindAt binds an application socket of the peer adapters (peers_test.go)
// on a fixed endpoint, the way an application binds the port its topology
// declares.
func bindAt(t *testing.T, p peer, ep string) {
	t.Helper()
	switch p := p.(type) {
	case *libzmqPeer:
		p.mu.Lock()
		defer p.mu.Unlock()
		if err := p.s.Bind(ep); err != nil {
			t.Fatal(err)
		}
	case *gozmqPeer:
		if err := p.s.Listen(ep); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("bindAt: unsupported peer %T", p)
	}
}

// recvLoop runs p.recv in a goroutine until ctx ends, handing each message
// to f. It returns a channel closed when the loop has stopped.
func recvLoop(ctx context.Context, p peer, f func([][]byte)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			m, err := p.recv(50 * time.Millisecond)
			if err != nil {
				if err != errTimeout {
					time.Sleep(5 * time.Millisecond) // closed: wait for ctx
				}
				continue
			}
			f(m)
		}
	}()
	return done
}

// lineCounter counts the lines logged to it that contain a substring.
type lineCounter struct {
	substr string
	n      atomic.Int64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(strings.Count(string(p), c.substr)))
	return len(p), nil
}

// newApp creates an application socket of impl; zmq4 sockets log to
// logw instead of stderr (zmq4 logs every failed handshake on a listener).
func newApp(t *testing.T, app impl, typ zmtp.SocketType, logw io.Writer) peer {
	t.Helper()
	if app.name != gozmq4.name || logw == nil {
		return app.new(t, typ, "")
	}
	ctx := context.Background()
	opts := []gozmq.Option{gozmq.WithDialerMaxRetries(-1), gozmq.WithDialerRetry(50 * time.Millisecond),
		gozmq.WithLogger(log.New(logw, "zmq4: ", 0))}
	var s gozmq.Socket
	switch typ {
	case zmtp.PUSH:
		s = gozmq.NewPush(ctx, opts...)
	case zmtp.PUB:
		s = gozmq.NewPub(ctx, opts...)
	case zmtp.REP:
		s = gozmq.NewRep(ctx, opts...)
	case zmtp.PULL:
		s = gozmq.NewPull(ctx, opts...)
	case zmtp.SUB:
		s = gozmq.NewSub(ctx, opts...)
	default:
		t.Fatalf("newApp: no %s", typ)
	}
	p := &gozmqPeer{s: s, typ: typ, closed: make(chan struct{})}
	t.Cleanup(p.close)
	return p
}
