package interop

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

func probeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Second)
}

// TestProbeLibzmqPushLosesNothing: >= 200 default probes against a libzmq
// bound PUSH feeding a real worker while it sends 3,000 messages: the
// worker receives all 3,000 (acceptance 3).
func TestProbeLibzmqPushLosesNothing(t *testing.T) {
	push, _ := czmq.NewSocket(czmq.PUSH)
	defer push.Close()
	_ = push.SetLinger(0)
	_ = push.Bind("tcp://127.0.0.1:*")
	ep, _ := push.GetLastEndpoint()
	worker, _ := czmq.NewSocket(czmq.PULL)
	defer worker.Close()
	_ = worker.SetLinger(0)
	_ = worker.Connect(ep)

	const total = 3000
	received := make(chan int)
	go func() {
		_ = worker.SetRcvtimeo(5 * time.Second)
		n := 0
		for n < total {
			if _, err := worker.RecvBytes(0); err != nil {
				break
			}
			n++
		}
		received <- n
	}()

	var (
		mu     sync.Mutex
		probes int
		fails  []error
	)
	stop := make(chan struct{})
	probing := make(chan struct{})
	go func() {
		defer close(probing)
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := probeCtx()
			res, err := zmtp.Probe(ctx, ep, zmtp.ProbeOptions{})
			cancel()
			mu.Lock()
			probes++
			if err != nil {
				fails = append(fails, err)
			} else if res.SocketType != zmtp.PUSH || res.SentReady {
				fails = append(fails, errors.New("bad result: "+res.SocketType.String()))
			}
			mu.Unlock()
		}
	}()
	for i := 0; i < total; i++ {
		_ = push.SetSndtimeo(5 * time.Second)
		if _, err := push.SendBytes([]byte("task"), 0); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			// Spread the sends so probes interleave with them, and wait
			// for at least 200 probes before the last ones.
			mu.Lock()
			p := probes
			mu.Unlock()
			for w := 0; p*total < 200*(i+1) && w < 100; w++ {
				time.Sleep(time.Millisecond)
				mu.Lock()
				p = probes
				mu.Unlock()
			}
		}
	}
	got := <-received
	close(stop)
	<-probing
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d probes during %d messages; worker received %d", probes, total, got)
	if len(fails) > 0 {
		t.Fatalf("%d probes failed, first: %v", len(fails), fails[0])
	}
	if probes < 200 {
		t.Fatalf("only %d probes ran", probes)
	}
	if got != total {
		t.Fatalf("worker received %d of %d messages: the probes stole %d", got, total, total-got)
	}
}

// TestProbeLibzmqSocketTypes: the prober reports the right Socket-Type of
// every libzmq socket, and PING RTT where a silent handshake is allowed
// (acceptance 3).
func TestProbeLibzmqSocketTypes(t *testing.T) {
	for _, typ := range []zmtp.SocketType{zmtp.REP, zmtp.PULL, zmtp.PUB, zmtp.ROUTER, zmtp.XSUB, zmtp.XPUB, zmtp.SUB, zmtp.PUSH, zmtp.DEALER, zmtp.REQ, zmtp.PAIR} {
		t.Run(typ.String(), func(t *testing.T) {
			p := newLibzmq(t, typ, "ident-"+typ.String())
			ep := p.bind(t)
			for _, mode := range []zmtp.ProbeMode{zmtp.ProbeReady, zmtp.ProbePing} {
				ctx, cancel := probeCtx()
				res, err := zmtp.Probe(ctx, ep, zmtp.ProbeOptions{Mode: mode})
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				if res.SocketType != typ || res.Version != (zmtp.Version{Major: 3, Minor: 1}) || res.Mechanism != "NULL" {
					t.Fatalf("got %+v", res)
				}
				_, silent := zmtp.SilentPeer(typ)
				if mode == zmtp.ProbePing && silent && res.PingRTT <= 0 {
					t.Fatalf("no PING RTT against %v", typ)
				}
				if !silent && res.SentReady {
					t.Fatalf("completed a handshake against %v", typ)
				}
				if typ == zmtp.ROUTER && string(res.Identity) != "ident-ROUTER" {
					t.Fatalf("identity %q", res.Identity)
				}
				t.Logf("%v mode=%d latency=%v ping=%v", typ, mode, res.Latency, res.PingRTT)
			}
		})
	}
}

func countFDs(t *testing.T) int {
	// Idle HTTP connections to the agent under test would count as leaks.
	scTransport.CloseIdleConnections()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// settleFDs waits (bounded) for the fd count to drop to at most limit.
func settleFDs(t *testing.T, limit int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := countFDs(t)
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProbeGozmqListenerFDs: 200 default probes against go-zeromq/zmq4
// listeners (ZMTP 3.0) do not grow this process's fd count by more than 5:
// against a 3.0 peer with a silent partner the prober completes the
// handshake, which zmq4 cleans up, instead of abandoning it, which zmq4
// leaks (acceptance 3).
func TestProbeGozmqListenerFDs(t *testing.T) {
	for _, typ := range []zmtp.SocketType{zmtp.PUB, zmtp.PULL, zmtp.REP, zmtp.ROUTER, zmtp.SUB} {
		t.Run(typ.String(), func(t *testing.T) {
			p := newGozmq(t, typ, "")
			ep := p.bind(t)
			if typ != zmtp.PUB {
				// A real application keeps calling Recv. zmq4's PULL/SUB
				// reader goroutines block (holding the fd) on a full
				// 10-slot channel when nobody does, after any peer
				// disconnect, probe or not.
				_, _ = p.recv(time.Millisecond)
			}
			before := countFDs(t)
			for i := 0; i < 200; i++ {
				ctx, cancel := probeCtx()
				res, err := zmtp.Probe(ctx, ep, zmtp.ProbeOptions{})
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				if res.SocketType != typ || res.Version != (zmtp.Version{Major: 3, Minor: 0}) || !res.SentReady {
					t.Fatalf("got %+v", res)
				}
			}
			after := settleFDs(t, before+5)
			t.Logf("fds before %d, after 200 probes %d", before, after)
			if after > before+5 {
				t.Fatalf("fd count grew from %d to %d", before, after)
			}
		})
	}
	t.Run("PUSH-never-completed", func(t *testing.T) {
		p := newGozmq(t, zmtp.PUSH, "")
		ep := p.bind(t)
		ctx, cancel := probeCtx()
		defer cancel()
		res, err := zmtp.Probe(ctx, ep, zmtp.ProbeOptions{Mode: zmtp.ProbePing})
		if err != nil || res.SocketType != zmtp.PUSH || res.SentReady || res.PingRTT != 0 {
			t.Fatalf("got %+v, %v", res, err)
		}
	})
}

// TestProbeHTTPServer: an HTTP server is reported as not ZMTP within the
// probe deadline (acceptance 3).
func TestProbeHTTPServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := zmtp.Probe(ctx, "tcp://"+strings.TrimPrefix(srv.URL, "http://"), zmtp.ProbeOptions{})
	if !errors.Is(err, zmtp.ErrNotZMTP) {
		t.Fatalf("got %v; want ErrNotZMTP", err)
	}
	t.Log(err)
}
