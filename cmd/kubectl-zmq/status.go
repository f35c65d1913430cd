package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/zmq-operator/zmq-operator/internal/topoview"
)

// newStatusCommand builds `kubectl zmq status NAME`.
func newStatusCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	src := topologySource{flags: flags, stdin: streams.In}
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a topology's components, links and conditions as a tree",
		Long: `Show a ZMQTopology as the operator reports it: each component with its
workload kind, ready/desired replicas and sockets (bound sockets with the
endpoints they publish, connecting sockets with their target), each link
with its health (connections up/expected, median and maximum ZMTP round
trip, and the reason naming the broken pod pair when one is down), and the
conditions.

Link health: up (every expected connection up), partial, down (none up, or
an end not ready), unknown (the sidecars not polled yet).`,
		Example: `  kubectl zmq status pubsub
  kubectl zmq status pipeline -n team-a --context prod
  kubectl get zt pubsub -o yaml | kubectl zmq status -f -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := src.get(cmd.Context(), firstArg(args))
			if err != nil {
				return err
			}
			return topoview.WriteStatus(streams.Out, t)
		},
	}
	cmd.Flags().StringVarP(&src.file, "filename", "f", "", `read the topology from a manifest file ("-" for stdin) instead of the cluster`)
	return cmd
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
