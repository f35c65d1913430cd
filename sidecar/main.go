// Command zmq-sidecar is zmq-operator's data-plane binary. Subcommands:
//
//	zmq-sidecar agent [--config /etc/zmq/topology.json] [--listen :9917] [--probe-interval 5s]
//	zmq-sidecar device forwarder|streamer|queue --config /etc/zmq/topology.json
//	zmq-sidecar ping [--timeout 2s] [--mode ready|greeting|ping] tcp://host:port
//
// main only wires subcommands; each lives in its own file.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name, usage string
	run         func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = []command{
	{"agent", "agent [--config FILE] [--listen :9917] [--probe-interval 5s]   readiness, peer probes and socket stats", runAgent},
	{"device", "device forwarder|streamer|queue --config FILE   run an operator-managed proxy", runDevice},
	{"ping", "ping [--timeout D] [--mode M] tcp://host:port      probe a ZeroMQ endpoint once", runPing},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		for _, c := range commands {
			if c.name == args[0] {
				if err := c.run(ctx, args[1:], stdout); err != nil {
					fmt.Fprintf(stderr, "zmq-sidecar %s: %v\n", c.name, err)
					return 1
				}
				return 0
			}
		}
		if args[0] == "version" || args[0] == "--version" {
			fmt.Fprintln(stdout, "zmq-sidecar", version)
			return 0
		}
	}
	fmt.Fprintf(stderr, "zmq-sidecar %s: the zmq-operator data plane\n\nusage:\n", version)
	for _, c := range commands {
		fmt.Fprintf(stderr, "  zmq-sidecar %s\n", c.usage)
	}
	return 2
}
