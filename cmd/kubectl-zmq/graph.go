package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/zmq-operator/zmq-operator/internal/topoview"
)

// newGraphCommand builds `kubectl zmq graph NAME -o dot|mermaid`.
func newGraphCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	src := topologySource{flags: flags, stdin: streams.In}
	var output string
	cmd := &cobra.Command{
		Use:   "graph NAME -o dot|mermaid",
		Short: "Draw a topology: components as nodes, links as edges coloured by health",
		Long: `Print a ZMQTopology as a Graphviz DOT digraph or a Mermaid flowchart.
Components are nodes (devices shaded) outlined green when ready, red when
not, grey when not observed; links are edges in the direction messages
flow (sender or requester first), labelled with the pattern, connections
up/expected and the ZMTP round trip, and coloured by health: green up,
orange partial, red down, grey (dashed) unknown.

With -f the topology is read from a manifest (such as a saved
"kubectl get zt NAME -o yaml"), without a cluster.`,
		Example: `  kubectl zmq graph pubsub -o dot | dot -Tpng > pubsub.png
  kubectl zmq graph pubsub -o mermaid
  kubectl zmq graph -f docs/pubsub.yaml -o dot | dot -Tsvg > pubsub.svg`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var write func(g topoview.Graph) error
			switch output {
			case "dot":
				write = func(g topoview.Graph) error { return topoview.WriteDOT(streams.Out, g) }
			case "mermaid":
				write = func(g topoview.Graph) error { return topoview.WriteMermaid(streams.Out, g) }
			default:
				return fmt.Errorf("--output %q: want dot or mermaid", output)
			}
			t, err := src.get(cmd.Context(), firstArg(args))
			if err != nil {
				return err
			}
			return write(topoview.Build(t))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "dot", "output format: dot or mermaid")
	cmd.Flags().StringVarP(&src.file, "filename", "f", "", `read the topology from a manifest file ("-" for stdin) instead of the cluster`)
	return cmd
}
