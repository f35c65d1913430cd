// Command zmq-example runs the sample workloads of config/samples. Each role
// reads its sockets only from what the operator injects (the mounted
// /etc/zmq/topology.json, or ZMQ_* environment variables for the
// go-zeromq/zmq4 server), logs what it does, and serves its counters as JSON
// on /stats so that tests can check delivery:
//
//	zmq-example ventilator|worker|sink|publisher|subscriber|client|server [flags]
//
// --delay postpones opening the sockets, to show readiness following the
// bind.
//
// Producers (ventilator, publisher, client) send at --rate messages per
// second; POST /pause and /resume stop and restart them, so a test can
// compare what was sent with what arrived once traffic is quiet.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

type role func(ctx context.Context, a *app) error

var roles = map[string]role{
	"ventilator": runVentilator,
	"worker":     runWorker,
	"sink":       runSink,
	"publisher":  runPublisher,
	"subscriber": runSubscriber,
	"client":     runClient,
	"server":     runServer, // go-zeromq/zmq4
}

// app is what every role shares: flags, the stats document and the
// pause switch.
type app struct {
	host   string
	config string // the mounted socket configuration
	rate   float64
	topics []string
	paused atomic.Bool
	log    *slog.Logger

	mu    sync.Mutex
	stats map[string]any
}

func main() {
	if len(os.Args) < 2 || roles[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: zmq-example ventilator|worker|sink|publisher|subscriber|client|server [--rate N] [--topic T]... [--stats-addr :8080]")
		os.Exit(2)
	}
	name := os.Args[1]
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	a := &app{stats: map[string]any{"role": name}}
	fs.Float64Var(&a.rate, "rate", 50, "Messages per second a producer sends.")
	fs.Func("topic", "A topic to publish or subscribe to (repeatable).", func(s string) error { a.topics = append(a.topics, s); return nil })
	statsAddr := fs.String("stats-addr", ":8080", "Address of the /stats endpoint.")
	fs.StringVar(&a.config, "config", zmqconfig.Path, "The socket configuration the operator mounts.")
	delay := fs.Duration("delay", 0, "Wait this long before opening any socket (to see readiness follow the bind).")
	_ = fs.Parse(os.Args[2:])
	a.host, _ = os.Hostname()
	a.stats["host"] = a.host
	a.log = slog.New(slog.NewTextHandler(os.Stdout, nil)).With("role", name, "host", a.host)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go a.serve(ctx, *statsAddr)
	if *delay > 0 {
		a.log.Info("waiting before opening sockets", "delay", *delay)
		select {
		case <-time.After(*delay):
		case <-ctx.Done():
			return
		}
	}
	if err := roles[name](ctx, a); err != nil && ctx.Err() == nil {
		a.log.Error("failed", "err", err)
		os.Exit(1)
	}
}

// update changes the stats document under the lock.
func (a *app) update(f func(s map[string]any)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a.stats)
}

func (a *app) serve(ctx context.Context, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.stats)
	})
	mux.HandleFunc("POST /pause", func(w http.ResponseWriter, _ *http.Request) { a.paused.Store(true) })
	mux.HandleFunc("POST /resume", func(w http.ResponseWriter, _ *http.Request) { a.paused.Store(false) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		a.log.Error("stats server", "err", err)
	}
}

// tick calls send at the configured rate while not paused, until ctx ends.
func (a *app) tick(ctx context.Context, send func(seq int) error) error {
	t := time.NewTicker(time.Duration(float64(time.Second) / a.rate))
	defer t.Stop()
	for seq := 0; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if a.paused.Load() {
			continue
		}
		if err := send(seq); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		seq++
	}
}
