// Command demo is `make demo`: it brings up a single-node Kubernetes built
// from source on this machine (package cluster), deploys zmq-operator the way
// a user would, applies the sample topologies, waits until they are Ready
// and shows their ZeroMQ message counts going up, then tears everything
// down (or, with --keep, leaves it running and prints the KUBECONFIG).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/cluster"
	"github.com/zmq-operator/zmq-operator/test/e2e/deploy"
)

// errUnsupported is returned when this machine cannot run the cluster.
var errUnsupported = cluster.ErrUnsupported

func main() {
	root := flag.String("repo", ".", "Repository root (config/, bin/).")
	binDir := flag.String("bin-dir", "", "Kubernetes binaries (default bin/k8s/1.37.2-<os>-<arch>).")
	workDir := flag.String("work-dir", ".cluster", "Cluster state directory.")
	keep := flag.Bool("keep", false, "Leave the cluster running and print the KUBECONFIG.")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *root, *binDir, *workDir, *keep)
	if errors.Is(err, errUnsupported) {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(3) // the Makefile falls back to the control-plane-only demo
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func run(ctx context.Context, root, binDir, workDir string, keep bool) (err error) {
	root, _ = filepath.Abs(root)
	if binDir == "" {
		binDir = filepath.Join(root, "bin", "k8s", "1.37.2-linux-amd64")
	}
	workDir, _ = filepath.Abs(workDir)
	start := time.Now()
	step("starting a single-node Kubernetes 1.37.2 (containerd, etcd, apiserver, controller-manager, scheduler, kubelet, kube-proxy, CoreDNS)")
	owner := os.Getpid() // an interrupted demo's cluster is reclaimed by the next Up
	if keep {
		owner = 0 // it outlives the demo
	}
	c, err := cluster.Up(ctx, cluster.Config{WorkDir: workDir, BinDir: binDir, Log: os.Stdout, Owner: owner})
	if err != nil {
		return err
	}
	defer func() {
		if keep && err == nil {
			return
		}
		step("tearing the cluster down")
		dctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if derr := c.Down(dctx); derr != nil {
			fmt.Fprintln(os.Stderr, "tear-down:", derr)
		}
	}()
	fmt.Printf("cluster up in %s\n", time.Since(start).Round(time.Second))
	k := deploy.Kubectl{Bin: filepath.Join(binDir, "kubectl"), Kubeconfig: c.Kubeconfig()}

	step("building images from bin/ (manager, zmq-sidecar, examples) and loading them into containerd")
	if err := deploy.LoadImages(ctx, root, c); err != nil {
		return err
	}
	step("kubectl apply -k config/default")
	if err := deploy.Operator(ctx, k, root); err != nil {
		return err
	}
	step("kubectl apply -k config/samples")
	if _, err := k.Run(ctx, "apply", "-k", filepath.Join(root, "config", "samples")); err != nil {
		return err
	}
	step("waiting for the topologies to be Ready (kubectl wait --for=condition=Ready zt --all)")
	if _, err := k.Run(ctx, "wait", "--for=condition=Ready", "zt", "--all", "--timeout=300s"); err != nil {
		out, _ := k.Run(ctx, "get", "zt,pods", "-o", "wide")
		fmt.Println(out)
		return err
	}
	step("kubectl get zmqtopology -A -o wide")
	out, err := k.Run(ctx, "get", "zmqtopology", "-A", "-o", "wide")
	if err != nil {
		return err
	}
	fmt.Print(out)
	out, _ = k.Run(ctx, "get", "pods", "-o", "wide")
	fmt.Print("\n" + out)

	step("message counts, read from each example's /stats (twice, 5 s apart)")
	for i := 0; i < 2; i++ {
		if i > 0 {
			time.Sleep(5 * time.Second)
		}
		if err := printCounts(ctx, k); err != nil {
			return err
		}
	}
	if keep {
		fmt.Printf("\nThe cluster keeps running. Use it with:\n\n  export KUBECONFIG=%s\n  %s get zt -A\n\nTear it down with `make cluster-down`.\n", c.Kubeconfig(), k.Bin)
	}
	return nil
}

// printCounts prints one line per example pod with its counters.
func printCounts(ctx context.Context, k deploy.Kubectl) error {
	fmt.Printf("-- %s\n", time.Now().Format("15:04:05"))
	for _, tc := range []struct{ topology, component string }{
		{"pipeline", "ventilator"}, {"pipeline", "sink"},
		{"pubsub", "prices"}, {"pubsub", "news"}, {"pubsub", "dashboard"}, {"pubsub", "audit"},
		{"reqrep", "client"}, {"reqrep", "server"},
	} {
		pods, err := deploy.Pods(ctx, k, "default", tc.topology, tc.component)
		if err != nil {
			return err
		}
		for _, p := range pods {
			var s map[string]any
			if err := deploy.Stats(ctx, p, &s); err != nil {
				fmt.Printf("  %-40s (stats unavailable: %v)\n", p.Name, err)
				continue
			}
			var parts []string
			for _, key := range []string{"sent", "processed", "received", "duplicates", "byTopic", "replies", "lost", "served"} {
				if v, ok := s[key]; ok {
					parts = append(parts, fmt.Sprintf("%s=%v", key, v))
				}
			}
			fmt.Printf("  %-40s %s\n", p.Name, strings.Join(parts, " "))
		}
	}
	return nil
}
