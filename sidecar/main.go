// Command zmq-sidecar is zmq-operator's data-plane binary. Subcommands:
//
//	zmq-sidecar agent [--config /etc/zmq/topology.json] [--listen :9917] [--probe-interval 5s]
//	zmq-sidecar device forwarder|streamer|queue --config /etc/zmq/topology.json
//	zmq-sidecar ping [--timeout 2s] [--mode ready|greeting|ping] tcp://host:port
//	zmq-sidecar version
//
// --help (or -h) on the command or any subcommand prints its usage on stdout
// and exits 0. main only wires subcommands; each lives in its own file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
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
	{"version", "version                                          print the version and the Go version", runVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errHelpShown is returned by a subcommand that printed its usage because
// it was asked to (--help, -h): run exits 0 on it.
var errHelpShown = errors.New("help shown")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "-version", "--version":
		args = []string{"version"}
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		switch err := c.run(ctx, args[1:], stdout); {
		case err == nil, errors.Is(err, errHelpShown):
			return 0
		default:
			fmt.Fprintf(stderr, "zmq-sidecar %s: %v (see zmq-sidecar %s --help)\n", c.name, err, c.name)
			return 1
		}
	}
	fmt.Fprintf(stderr, "zmq-sidecar: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "zmq-sidecar %s: the zmq-operator data plane\n\nusage:\n", version)
	for _, c := range commands {
		fmt.Fprintf(w, "  zmq-sidecar %s\n", c.usage)
	}
	fmt.Fprintln(w, "\nzmq-sidecar COMMAND --help shows a command's flags.")
}

// parseFlags parses a subcommand's flags. On --help or -h it prints the
// usage line and the flags on stdout and returns errHelpShown; other parse
// errors are returned for run to print, without the flag package's own
// output.
func parseFlags(fs *flag.FlagSet, usageLine string, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		printFlags(fs, usageLine, stdout)
		return errHelpShown
	}
	return err
}

func printFlags(fs *flag.FlagSet, usageLine string, w io.Writer) {
	fmt.Fprintf(w, "usage: zmq-sidecar %s\n\nflags:\n", usageLine)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// runVersion prints the version stamped at build time and the Go toolchain
// that built the binary.
func runVersion(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := parseFlags(fs, "version", args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fmt.Fprintf(stdout, "zmq-sidecar %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
