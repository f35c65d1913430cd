package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmqsocket"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// runDevice runs the proxy of an operator-managed device between the
// frontend and backend sockets of its mounted configuration until SIGTERM,
// then lets its peers go without losing messages (device_drain.go).
func runDevice(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("device", flag.ContinueOnError)
	configPath := fs.String("config", zmqconfig.Path, "The component's resolved socket configuration.")
	listen := fs.String("listen", ":9918", "Address of the device's /metrics; empty disables it.")
	follow := fs.Duration("config-poll-interval", defaultFollowInterval, "How often to re-read --config to follow endpoint changes of connecting sockets.")
	var drain drainSettings
	fs.DurationVar(&drain.delay, "shutdown-delay", 0, "After SIGTERM, how long to keep forwarding before draining (the time for Kubernetes to stop routing new connections to the pod).")
	fs.DurationVar(&drain.timeout, "drain-timeout", 20*time.Second, "After the delay, how long the device may take to let its peers go and forward what it holds before it closes.")
	ioThreads := fs.Int("io-threads", zmqconfig.DefaultDeviceIOThreads, "How many threads run the device's Go code at once (GOMAXPROCS), as libzmq's ZMQ_IO_THREADS; 0 keeps Go's default (the CPU limit rounded up, at least 2, else every CPU). A valid GOMAXPROCS environment variable wins.")
	const usageLine = "device forwarder|streamer|queue [flags]"
	// The device type comes first; --help may come instead of it.
	kind, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		kind, rest = args[0], args[1:]
	}
	if err := parseFlags(fs, usageLine, rest, stdout); err != nil {
		return err
	}
	switch {
	case kind == "":
		return errors.New("missing device type: forwarder, streamer or queue")
	case !validDeviceKind(kind):
		return fmt.Errorf("unknown device type %q: forwarder, streamer or queue", kind)
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := checkIOThreads(*ioThreads); err != nil {
		return err
	}
	cfg, err := zmqconfig.Load(*configPath)
	if err != nil {
		return err
	}
	if !strings.EqualFold(cfg.Device, kind) {
		return fmt.Errorf("asked to run a %s but %s describes a %q device", kind, *configPath, cfg.Device)
	}
	log := slog.With("topology", cfg.Topology, "component", cfg.Component, "device", cfg.Device)
	front, back, err := openDevice(cfg, log)
	if err != nil {
		return err
	}
	defer back.Close()
	defer front.Close()
	// The process-wide settings, once the device is sure to run.
	procs := tuneDeviceRuntime(*ioThreads)
	setMemoryLimit(ctx, log)
	fctx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing() // before the sockets close
	follower := startFollower(fctx, *configPath, cfg, *follow, log,
		map[string]*zmtp.Socket{zmqconfig.DeviceFrontend: front, zmqconfig.DeviceBackend: back})

	if *listen != "" {
		stop, err := serveDeviceMetrics(*listen, front, back, newFollowCollector("zmq_device", follower))
		if err != nil {
			return err
		}
		defer stop()
	}
	log.Info("device running", "frontend", cfg.Socket(zmqconfig.DeviceFrontend).Endpoints, "backend", cfg.Socket(zmqconfig.DeviceBackend).Endpoints, "ioThreads", procs)
	return serveDevice(ctx, kind, front, back, drain, log)
}

func validDeviceKind(kind string) bool {
	for _, k := range []string{"forwarder", "streamer", "queue"} {
		if strings.EqualFold(kind, k) {
			return true
		}
	}
	return false
}

// serveDeviceMetrics serves the device's counters, and those of extra
// collectors, on addr until stop.
func serveDeviceMetrics(addr string, front, back *zmtp.Socket, extra ...prometheus.Collector) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&deviceCollector{sides: map[string]*zmtp.Socket{zmqconfig.DeviceFrontend: front, zmqconfig.DeviceBackend: back}}, buildInfo())
	reg.MustRegister(extra...)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// openDevice opens the frontend and backend sockets. The operator has
// validated their types against the device type; the proxy only needs each
// to be able to carry messages the way it forwards them.
func openDevice(cfg *zmqconfig.Config, log *slog.Logger) (front, back *zmtp.Socket, err error) {
	open := func(name string, extra ...zmtp.Option) (*zmtp.Socket, error) {
		s := cfg.Socket(name)
		if s == nil {
			return nil, fmt.Errorf("a %s device needs a %q socket", cfg.Device, name)
		}
		limit := int64(zmtp.DefaultMaxMsgSize)
		if s.Options.MaxMsgSize != nil {
			limit = *s.Options.MaxMsgSize
		}
		extra = append(extra, zmtp.WithDisconnectObserver(newOversizeLog(log, name, limit).observe))
		return zmqsocket.Open(*s, extra...)
	}
	var frontExtra []zmtp.Option
	if strings.EqualFold(cfg.Device, "queue") {
		// The Queue's ROUTER routes replies by client identity. A client
		// that comes back on a new connection (a restarted pod, or a path
		// the network broke without the device noticing) takes its
		// identity over at once (ZMQ_ROUTER_HANDOVER), so replies reach it
		// instead of the dead connection, and it is not refused until
		// that connection times out.
		frontExtra = append(frontExtra, zmtp.WithRouterHandover())
	}
	if front, err = open(zmqconfig.DeviceFrontend, frontExtra...); err != nil {
		return nil, nil, err
	}
	if back, err = open(zmqconfig.DeviceBackend); err != nil {
		front.Close()
		return nil, nil, err
	}
	if !zmtp.CanRecv(front.Type()) || !zmtp.CanSend(back.Type()) {
		front.Close()
		back.Close()
		return nil, nil, fmt.Errorf("cannot proxy from a %s frontend to a %s backend", front.Type(), back.Type())
	}
	return front, back, nil
}
