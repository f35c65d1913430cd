package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// serviceDialer plays a ClusterIP Service during a rollout: connections go
// to the old pod until it refuses them (it stopped listening), then to the
// new one.
type serviceDialer struct {
	old, new string
	moved    atomic.Bool
}

func (d *serviceDialer) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	if !d.moved.Load() {
		if nc, err := (&net.Dialer{}).DialContext(ctx, network, d.old); err == nil {
			return nc, nil
		}
		d.moved.Store(true)
	}
	return (&net.Dialer{}).DialContext(ctx, network, d.new)
}

// deviceProc is a device run in-process, as in its pod.
type deviceProc struct {
	front, back string // host:port
	stop        context.CancelFunc
	done        chan error
}

// launchDevice runs a device on two fresh loopback ports; stop plays SIGTERM.
func launchDevice(t *testing.T, device, frontType, backType string, args ...string) *deviceProc {
	t.Helper()
	configured := strings.ToUpper(device[:1]) + device[1:]
	fp, bp := freePort(t), freePort(t)
	cfg := &zmqconfig.Config{Topology: "t", Namespace: "ns", Component: "d", Device: configured, Sockets: []zmqconfig.Socket{
		{Name: "frontend", Type: frontType, Bind: true, Port: fp, Endpoints: []string{fmt.Sprintf("tcp://127.0.0.1:%d", fp)}},
		{Name: "backend", Type: backType, Bind: true, Port: bp, Endpoints: []string{fmt.Sprintf("tcp://127.0.0.1:%d", bp)}},
	}}
	raw, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &deviceProc{front: fmt.Sprintf("127.0.0.1:%d", fp), back: fmt.Sprintf("127.0.0.1:%d", bp), stop: cancel, done: make(chan error, 1)}
	go func() {
		p.done <- runDevice(ctx, append([]string{device, "--config", path, "--listen", ""}, args...), io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Error("device did not stop")
		}
	})
	// Wait until it listens.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if nc, err := net.Dial("tcp", p.back); err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("device did not listen")
		}
	}
	return p
}

// terminate plays the kubelet: SIGTERM, then wait for the device to exit.
func (p *deviceProc) terminate(t *testing.T) {
	t.Helper()
	p.stop()
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("device exited with %v", err)
		}
		p.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("device did not stop within 30s")
	}
}

func numbered(i uint64, size int) zmtp.Msg {
	b := make([]byte, size)
	binary.BigEndian.PutUint64(b, i)
	return zmtp.Msg{b}
}

// TestStreamerRolloutLosesNothing replays a surge-before-stop rollout of a
// Streamer in-process: a ventilator streams numbered tasks through the
// Streamer's "Service" to two workers, which pass them to a sink. Mid-
// stream a replacement Streamer starts, then the old one gets SIGTERM
// and drains. The sink must get every task exactly once.
func TestStreamerRolloutLosesNothing(t *testing.T) {
	const total = 5000
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	old := launchDevice(t, "streamer", "PULL", "PUSH")
	repl := launchDevice(t, "streamer", "PULL", "PUSH")
	frontSvc := &serviceDialer{old: old.front, new: repl.front}

	fast := zmtp.WithReconnectInterval(10*time.Millisecond, 100*time.Millisecond)
	vent, _ := zmtp.NewSocket(zmtp.PUSH, zmtp.WithDialer(frontSvc), zmtp.WithSendHWM(50), fast)
	defer vent.Close()
	if err := vent.Connect("tcp://streamer:1"); err != nil {
		t.Fatal(err)
	}
	sink, _ := zmtp.NewSocket(zmtp.PULL)
	defer sink.Close()
	sinkEP, err := sink.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < 2; w++ {
		backSvc := &serviceDialer{old: old.back, new: repl.back}
		in, _ := zmtp.NewSocket(zmtp.PULL, zmtp.WithDialer(backSvc), zmtp.WithRecvHWM(50), fast)
		defer in.Close()
		out, _ := zmtp.NewSocket(zmtp.PUSH)
		defer out.Close()
		if err := in.Connect("tcp://streamer:2"); err != nil {
			t.Fatal(err)
		}
		if err := out.Connect(sinkEP); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				m, err := in.Recv(ctx)
				if err != nil {
					return
				}
				time.Sleep(50 * time.Microsecond) // a little work
				if out.Send(ctx, m) != nil {
					return
				}
			}
		}()
	}

	go func() {
		for i := uint64(0); i < total; i++ {
			if err := vent.Send(ctx, numbered(i, 512)); err != nil {
				t.Errorf("ventilator: %v", err)
				return
			}
			if i == total/3 {
				go old.stop() // SIGTERM; the cleanup waits for the exit
			}
		}
	}()
	seen := make(map[uint64]int, total)
	for n := 0; n < total; n++ {
		m, err := sink.Recv(ctx)
		if err != nil {
			missing := 0
			for i := uint64(0); i < total; i++ {
				if seen[i] == 0 {
					missing++
				}
			}
			t.Fatalf("sink got %d messages, %d of %d missing: %v", n, missing, total, err)
		}
		seen[binary.BigEndian.Uint64(m[0])]++
	}
	// Nothing more (a duplicate would be an extra message).
	extra, cancelExtra := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelExtra()
	if m, err := sink.Recv(extra); err == nil {
		t.Fatalf("a duplicate arrived: task %d", binary.BigEndian.Uint64(m[0]))
	}
	if len(seen) != total {
		t.Fatalf("sink saw %d distinct tasks; want %d", len(seen), total)
	}
	if !frontSvc.moved.Load() {
		t.Fatal("the ventilator never moved to the replacement: the rollout was not exercised")
	}
}

// TestQueueRolloutLosesNoReply replays a rollout of a Queue: REQ clients
// send numbered requests through the Queue's "Service" to REP servers; the
// old Queue drains mid-run. Every request must get its reply: clients
// retry a request only when the REQ reports that its peer left
// (ErrPeerGone), and count each reply they get. And no request may be
// served twice: the draining Queue answers what it forwarded and forwards
// nothing it cannot answer. (Closing the old Queue at once instead made
// the servers handle in-flight requests whose replies were lost, and the
// retries handled them again.)
func TestQueueRolloutLosesNoReply(t *testing.T) {
	const clients, perClient = 4, 400
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	old := launchDevice(t, "queue", "ROUTER", "DEALER")
	repl := launchDevice(t, "queue", "ROUTER", "DEALER")
	fast := zmtp.WithReconnectInterval(10*time.Millisecond, 100*time.Millisecond)

	var (
		servedMu sync.Mutex
		served   = map[string]int{}
	)
	for s := 0; s < 2; s++ {
		rep, _ := zmtp.NewSocket(zmtp.REP, zmtp.WithDialer(&serviceDialer{old: old.back, new: repl.back}), fast)
		defer rep.Close()
		if err := rep.Connect("tcp://queue:2"); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				m, err := rep.Recv(ctx)
				if err != nil {
					return
				}
				servedMu.Lock()
				served[string(m[0])]++
				servedMu.Unlock()
				time.Sleep(200 * time.Microsecond)
				if rep.Send(ctx, m) != nil {
					return
				}
			}
		}()
	}

	var (
		replies, retries atomic.Int64
		wg               sync.WaitGroup
		moved            atomic.Int64
		firstErr         error
		errOnce          sync.Once
	)
	wg.Add(clients)
	for c := 0; c < clients; c++ {
		go func(c int) {
			defer wg.Done()
			d := &serviceDialer{old: old.front, new: repl.front}
			req, _ := zmtp.NewSocket(zmtp.REQ, zmtp.WithDialer(d), fast)
			defer req.Close()
			if err := req.Connect("tcp://queue:1"); err != nil {
				errOnce.Do(func() { firstErr = err })
				return
			}
			for i := 0; i < perClient; i++ {
				want := fmt.Sprintf("%d-%d", c, i)
				for {
					if err := req.Send(ctx, zmtp.NewMsgString(want)); err != nil {
						errOnce.Do(func() { firstErr = err })
						return
					}
					m, err := req.Recv(ctx)
					if errors.Is(err, zmtp.ErrPeerGone) {
						retries.Add(1)
						continue
					}
					if err != nil {
						errOnce.Do(func() { firstErr = fmt.Errorf("client %d request %d: %w", c, i, err) })
						return
					}
					if string(m[0]) != want {
						errOnce.Do(func() { firstErr = fmt.Errorf("client %d got %q for %q", c, m[0], want) })
						return
					}
					replies.Add(1)
					break
				}
			}
			if d.moved.Load() {
				moved.Add(1)
			}
		}(c)
	}
	time.Sleep(200 * time.Millisecond)
	old.terminate(t)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if got := replies.Load(); got != clients*perClient {
		t.Fatalf("%d replies; want %d", got, clients*perClient)
	}
	servedMu.Lock()
	for id, n := range served {
		if n != 1 {
			t.Errorf("request %s served %d times", id, n)
		}
	}
	if len(served) != clients*perClient {
		t.Errorf("%d distinct requests served; want %d", len(served), clients*perClient)
	}
	servedMu.Unlock()
	if moved.Load() != clients {
		t.Fatalf("%d of %d clients moved to the replacement", moved.Load(), clients)
	}
	t.Logf("requests resent after ErrPeerGone: %d", retries.Load())
}
