// Command kubectl-zmq is a kubectl plugin for ZMQTopology objects. Put the
// binary on PATH and kubectl finds it:
//
//	kubectl zmq status NAME                 components, links and their health
//	kubectl zmq graph NAME -o dot|mermaid   the topology as a picture (or -f FILE, offline)
//	kubectl zmq ping POD [SOCKET]           the sidecar's ZMTP probe, run inside the pod
//
// It takes kubectl's connection flags (--kubeconfig, --context, -n, ...)
// through k8s.io/cli-runtime. main only wires the commands; each lives in
// its own file.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}

// exitError carries a command's exit status (the remote ping's).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run executes the command line and returns the process's exit status:
// 0 on success, the remote command's status for ping, 1 on any other error.
func run(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	root := newRootCommand(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if e, ok := err.(exitError); ok {
		return e.code
	}
	fmt.Fprintln(streams.ErrOut, "error:", err)
	return 1
}

// newRootCommand builds `kubectl zmq` and its subcommands, sharing one set
// of kubectl connection flags.
func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kubectl-zmq",
		Short: "Inspect ZMQTopology objects: status, a graph of links, in-pod ZMTP pings",
		Long: `kubectl zmq shows what the zmq-operator knows about a ZMQTopology: its
components and the health of the links between them (from status.links),
as a tree or as a Graphviz/Mermaid picture, and runs the zmq-sidecar's
ZMTP probe inside a pod.

Install: copy the kubectl-zmq binary (make build writes bin/kubectl-zmq)
to a directory on PATH; kubectl then runs it as "kubectl zmq".`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	flags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newStatusCommand(flags, streams),
		newGraphCommand(flags, streams),
		newPingCommand(flags, streams),
	)
	return root
}
