// Command zmq-example runs the sample workloads of config/samples. Each role
// reads its sockets only from what the operator injects (the mounted
// /etc/zmq/topology.json, or ZMQ_* environment variables for the
// go-zeromq/zmq4 server), logs what it does, and serves its counters as JSON
// on /stats so that tests can check delivery:
//
//	zmq-example ventilator|worker|sink|publisher|subscriber|client|server|replier [flags]
//	zmq-example version
//
// --delay postpones opening the sockets, to show readiness following the
// bind.
//
// Producers (ventilator, publisher, client) send at --rate messages per
// second, numbered from 0, and stop after --count messages (0: never);
// POST /pause and /resume stop and restart them, so a test can compare
// what was sent with what arrived once traffic is quiet.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
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
	"replier":    runReplier,
}

// app is what every role shares: flags, the stats document and the
// pause switch.
type app struct {
	host   string
	config string // the mounted socket configuration
	rate   float64
	count  int // messages a producer sends; 0: no limit
	topics []string
	paused atomic.Bool
	work   time.Duration // time a worker spends on each task
	size   int           // bytes a ventilator pads each task to
	log    *slog.Logger

	mu    sync.Mutex
	stats map[string]any
}

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const usageLine = "usage: zmq-example ventilator|worker|sink|publisher|subscriber|client|server|replier [--rate N] [--count N] [--topic T]... [--stats-addr :8080] [--config FILE] [--delay D]\n       zmq-example version"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs one role until SIGTERM and returns the exit status. --help (or
// -h), alone or after a role, prints the usage on stdout; version (or
// --version) prints the version and the Go version; both exit 0.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usageLine)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stdout, "zmq-example %s: the sample workloads of zmq-operator\n\n%s\n\nzmq-example ROLE --help shows the flags.\n", version, usageLine)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "zmq-example %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}
	name := args[0]
	if roles[name] == nil {
		fmt.Fprintf(stderr, "zmq-example: unknown role %q\n%s\n", name, usageLine)
		return 2
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	a := &app{stats: map[string]any{"role": name}}
	fs.Float64Var(&a.rate, "rate", 50, "Messages per second a producer sends.")
	fs.IntVar(&a.count, "count", 0, "Messages a producer sends before it stops (0: no limit); /stats says done when it has.")
	fs.Func("topic", "A topic to publish or subscribe to (repeatable).", func(s string) error { a.topics = append(a.topics, s); return nil })
	statsAddr := fs.String("stats-addr", ":8080", "Address of the /stats endpoint.")
	fs.StringVar(&a.config, "config", zmqconfig.Path, "The socket configuration the operator mounts.")
	delay := fs.Duration("delay", 0, "Wait this long before opening any socket (to see readiness follow the bind).")
	fs.DurationVar(&a.work, "work", 0, "Time a worker spends on each task before passing it on (a slow worker pool, for backlog autoscaling).")
	fs.IntVar(&a.size, "size", 0, "Bytes a ventilator pads each task to (0: no padding).")
	fs.SetOutput(io.Discard)
	switch err := fs.Parse(args[1:]); {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stdout, "usage: zmq-example %s [flags]\n\nflags:\n", name)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "zmq-example %s: %v (see zmq-example %s --help)\n", name, err, name)
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "zmq-example %s: unexpected arguments %q (see zmq-example %s --help)\n", name, fs.Args(), name)
		return 2
	}
	a.host, _ = os.Hostname()
	a.stats["host"] = a.host
	a.log = slog.New(slog.NewTextHandler(stdout, nil)).With("role", name, "host", a.host)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go a.serve(ctx, *statsAddr)
	if *delay > 0 {
		a.log.Info("waiting before opening sockets", "delay", *delay)
		select {
		case <-time.After(*delay):
		case <-ctx.Done():
			return 0
		}
	}
	if err := roles[name](ctx, a); err != nil && ctx.Err() == nil {
		a.log.Error("failed", "err", err)
		return 1
	}
	return 0
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

// tick calls send at the configured rate while not paused, until ctx ends
// or, with --count, until send succeeded count times; then it marks the
// stats done and waits for ctx (the pod stays up to be asked).
func (a *app) tick(ctx context.Context, send func(seq int) error) error {
	t := time.NewTicker(time.Duration(float64(time.Second) / a.rate))
	defer t.Stop()
	for seq := 0; ; {
		if a.count > 0 && seq >= a.count {
			a.update(func(s map[string]any) { s["done"] = true })
			<-ctx.Done()
			return nil
		}
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
