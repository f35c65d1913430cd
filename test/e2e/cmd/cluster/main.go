// Command cluster starts and stops the local single-node Kubernetes cluster of
// the e2e tests (package cluster).
//
//	go run ./cmd/cluster up [--keep-going]   start; prints the KUBECONFIG path
//	go run ./cmd/cluster down                stop and undo every host change
//	go run ./cmd/cluster status              processes and leftovers
//	go run ./cmd/cluster kubeconfig          print the admin kubeconfig path
//
// Flags (after the subcommand): --work-dir (default <repo>/.cluster),
// --bin-dir (default <repo>/bin/k8s/1.37.2-<os>-<arch>), --node-ip,
// --pod-cidr, --service-cidr, --timeout. <repo> is found from the test/e2e
// module, so it works from any directory inside the repository; relative
// --work-dir and --bin-dir are taken relative to <repo> too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/cluster"
	"github.com/zmq-operator/zmq-operator/test/e2e/images"
)

const k8sVersion = "1.37.2"

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cluster up [--keep-going] | down | status | kubeconfig  [--work-dir DIR] [--bin-dir DIR]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	sub := os.Args[1]
	if sub == "-h" || sub == "-help" || sub == "--help" || sub == "help" {
		fmt.Println("usage: cluster up [--keep-going] | down | status | kubeconfig  [--work-dir DIR] [--bin-dir DIR]\n\ncluster SUBCOMMAND --help shows the flags.")
		return
	}
	repo := ""
	if d, err := images.ModuleDir(); err == nil {
		repo = filepath.Dir(filepath.Dir(d))
	} else if wd, err := os.Getwd(); err == nil {
		repo = wd
	}
	fs := flag.NewFlagSet(sub, flag.ExitOnError)
	workDir := fs.String("work-dir", filepath.Join(repo, ".cluster"), "cluster state directory")
	binDir := fs.String("bin-dir", filepath.Join(repo, "bin", "k8s", k8sVersion+"-"+runtime.GOOS+"-"+runtime.GOARCH), "directory with the Kubernetes binaries and coredns (hack/build-k8s.sh)")
	nodeIP := fs.String("node-ip", "", "node address added on lo (default 10.250.0.1)")
	podCIDR := fs.String("pod-cidr", "", "pod CIDR (default 10.244.0.0/24)")
	svcCIDR := fs.String("service-cidr", "", "service CIDR (default 10.96.0.0/24)")
	keepGoing := fs.Bool("keep-going", false, "up: if a component fails, leave the partial cluster running for inspection (tear down with `down`)")
	timeout := fs.Duration("timeout", 5*time.Minute, "overall deadline of up/down")
	fs.SetOutput(os.Stdout) // --help: the flags on stdout, exit 0
	_ = fs.Parse(os.Args[2:])
	fs.SetOutput(os.Stderr)
	// Relative paths are relative to the repository root, wherever we run.
	for _, p := range []*string{workDir, binDir} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(repo, *p)
		}
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *timeout)
	defer cancelT()

	switch sub {
	case "up":
		c, err := cluster.Up(ctx, cluster.Config{
			WorkDir: *workDir, BinDir: *binDir, NodeIP: *nodeIP, PodCIDR: *podCIDR, ServiceCIDR: *svcCIDR,
			Log: os.Stderr, KeepOnFailure: *keepGoing,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "cluster up failed:", err)
			if errors.Is(err, cluster.ErrUnsupported) {
				os.Exit(3)
			}
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "\nexport KUBECONFIG=%s\n", c.Kubeconfig())
		fmt.Println(c.Kubeconfig())
	case "down":
		unlock, err := cluster.Lock(ctx, os.Stderr)
		if err != nil {
			fatal(err)
		}
		defer unlock()
		c, err := cluster.Attach(*workDir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(os.Stderr, "no cluster in %s: nothing to do\n", *workDir)
				if wd := cluster.ActiveWorkDir(); wd != "" && wd != *workDir {
					fmt.Fprintf(os.Stderr, "(a cluster from %s is recorded as running: down --work-dir %s)\n", wd, wd)
				}
				return
			}
			fatal(err)
		}
		if err := c.Down(ctx); err != nil {
			fatal(err)
		}
	case "status":
		c, err := cluster.Attach(*workDir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				fmt.Printf("no cluster in %s\n", *workDir)
				if wd := cluster.ActiveWorkDir(); wd != "" {
					fmt.Printf("(a cluster from %s is recorded as running)\n", wd)
				}
				os.Exit(1)
			}
			fatal(err)
		}
		s := c.Status()
		fmt.Printf("work dir:   %s\nkubeconfig: %s\nup done:    %v (started %s)\n", *workDir, c.Kubeconfig(), s.Ready, s.Since.Format(time.RFC3339))
		for _, p := range s.Procs {
			state := "running"
			if !p.Alive {
				state = "STOPPED"
			}
			fmt.Printf("  %-24s pid %-7d %-8s %s\n", p.Name, p.PID, state, p.Log)
		}
		if l := c.Leftovers(ctx); len(l) > 0 {
			fmt.Println("host resources held:")
			for _, x := range l {
				fmt.Println("  " + x)
			}
		}
	case "kubeconfig":
		c, err := cluster.Attach(*workDir)
		if err != nil {
			fatal(err)
		}
		fmt.Println(c.Kubeconfig())
	default:
		usage()
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
