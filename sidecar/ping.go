package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// runPing probes one endpoint and prints what the peer said: for `kubectl
// exec` debugging. It exits non-zero when the probe fails.
func runPing(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ping", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 2*time.Second, "Deadline for connect, greeting and READY (and PING).")
	mode := fs.String("mode", "ready", "ready (greeting + the peer's READY), greeting, or ping (adds a PING/PONG with ZMTP 3.1 peers).")
	configPath := fs.String("config", zmqconfig.Path, "The component's resolved socket configuration (read only with --socket).")
	socket := fs.String("socket", "", "Probe as this socket of the component: against a CURVE peer, authenticate with the component's key and expect the socket's (bound) or its peer's (connecting) type.")
	if err := parseFlags(fs, "ping [flags] tcp://host:port", args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: zmq-sidecar ping [--timeout D] [--mode M] tcp://host:port")
	}
	opts := zmtp.ProbeOptions{Timeout: *timeout}
	switch *mode {
	case "ready":
		opts.Mode = zmtp.ProbeReady
	case "greeting":
		opts.Mode = zmtp.ProbeGreeting
	case "ping":
		opts.Mode = zmtp.ProbePing
	default:
		return fmt.Errorf("unknown --mode %q", *mode)
	}
	if *socket != "" {
		cfg, err := zmqconfig.Load(*configPath)
		if err != nil {
			return err
		}
		s := cfg.Socket(*socket)
		if s == nil {
			return fmt.Errorf("component %s has no socket %q", cfg.Component, *socket)
		}
		withKeys, err := probeOptions(*s, opts.Mode)
		if err != nil {
			return err
		}
		opts.Curve, opts.Expect = withKeys.Curve, withKeys.Expect
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := zmtp.Probe(ctx, fs.Arg(0), opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "endpoint:    %s\nzmtp:        %s\nmechanism:   %s\n", fs.Arg(0), res.Version, res.Mechanism)
	if res.ServerAuthenticated {
		fmt.Fprintf(stdout, "curve:       server key verified\n")
	}
	if res.SocketType != 0 {
		fmt.Fprintf(stdout, "socket-type: %s\n", res.SocketType)
	}
	if len(res.Identity) > 0 {
		fmt.Fprintf(stdout, "identity:    %q\n", res.Identity)
	}
	fmt.Fprintf(stdout, "latency:     %s (connect %s)\n", res.Latency, res.ConnectLatency)
	if res.PingRTT > 0 {
		fmt.Fprintf(stdout, "ping rtt:    %s\n", res.PingRTT)
	}
	return nil
}
