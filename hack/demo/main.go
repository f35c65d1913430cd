// Command demo starts a local control plane (etcd and kube-apiserver built
// from source by hack/build-k8s.sh), installs the ZMQTopology CRD, runs the
// operator against it, applies the sample topologies and prints what the
// operator made of them. It is what `make demo-control-plane` runs, and
// what `make demo` falls back to where a real cluster cannot run.
//
// There is no kubelet in this control plane: Deployments and StatefulSets
// are created but never get pods, so every topology truthfully stays
// Ready=False with reason ComponentNotReady. The demo says so rather than
// fake readiness.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	var (
		manager = flag.String("manager", "bin/manager", "Path of the operator binary.")
		kubectl = flag.String("kubectl", "", "Path of kubectl (default: kubectl beside kube-apiserver in KUBEBUILDER_ASSETS).")
		keep    = flag.Bool("keep", false, "Keep the control plane and operator running until interrupted, and print the KUBECONFIG.")
		workDir = flag.String("dir", ".demo", "Directory for the kubeconfig and logs.")
		wait    = flag.Duration("wait", 10*time.Second, "How long to let the operator reconcile before printing.")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *manager, *kubectl, *workDir, *keep, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

func run(ctx context.Context, manager, kubectl, workDir string, keep bool, wait time.Duration) error {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: run `make demo-control-plane`, which builds the control plane first")
	}
	if kubectl == "" {
		kubectl = filepath.Join(assets, "kubectl")
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	workDir, _ = filepath.Abs(workDir)

	step("starting etcd and kube-apiserver from %s", assets)
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{"config/crd/bases"},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		step("stopping the control plane")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping control plane:", err)
		}
	}()
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating the demo user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kcPath := filepath.Join(workDir, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		return err
	}
	fmt.Println("API server:", env.Config.Host)

	step("starting the operator (%s); log in %s", manager, filepath.Join(workDir, "manager.log"))
	logFile, err := os.Create(filepath.Join(workDir, "manager.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	mgr := exec.Command(manager,
		"--leader-election-namespace=default",
		"--metrics-bind-address=127.0.0.1:18080", "--metrics-secure=false",
		"--health-probe-bind-address=127.0.0.1:18081",
		"--sidecar-image=zmq-sidecar:dev",
		// Only the CRD is installed here, no webhook configuration: the
		// control plane could not reach a webhook Service anyway.
		"--webhook-cert-mode=none")
	mgr.Env = append(os.Environ(), "KUBECONFIG="+kcPath)
	mgr.Stdout, mgr.Stderr = logFile, logFile
	if err := mgr.Start(); err != nil {
		return fmt.Errorf("starting the operator: %w", err)
	}
	defer func() {
		_ = mgr.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = mgr.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = mgr.Process.Kill()
		}
	}()
	if err := waitHTTP(ctx, "http://127.0.0.1:18081/readyz", 60*time.Second); err != nil {
		return fmt.Errorf("operator did not become ready (see %s): %w", logFile.Name(), err)
	}
	fmt.Println("operator ready")

	k := func(args ...string) error {
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kcPath)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}

	step("kubectl apply -k config/samples")
	if err := k("apply", "-k", "config/samples"); err != nil {
		return err
	}
	step("letting the operator reconcile for %s", wait)
	select {
	case <-time.After(wait):
	case <-ctx.Done():
		return ctx.Err()
	}

	step("kubectl get zmqtopology -A -o wide")
	if err := k("get", "zmqtopology", "-A", "-o", "wide"); err != nil {
		return err
	}
	step("children rendered by the operator")
	if err := k("get", "deployments,statefulsets,services,configmaps", "-l", "zmq.topology.dev/topology", "-o", "wide"); err != nil {
		return err
	}
	step("endpoints injected into pubsub/dashboard (SUB connects to every Forwarder replica)")
	if err := k("get", "deployment", "pubsub-dashboard", "-o", `jsonpath={range .spec.template.spec.containers[0].env[*]}{.name}={.value}{"\n"}{end}`); err != nil {
		return err
	}
	step("operator metrics (zmq_operator_*)")
	if err := printMetrics(ctx, "http://127.0.0.1:18080/metrics", "zmq_operator_"); err != nil {
		return err
	}

	fmt.Print(`
Note: this control plane has no kubelet, scheduler or controller-manager, so
the Deployments and StatefulSets above never get pods. Ready=False with reason
ComponentNotReady is the truth: nothing is running yet.
`)
	if keep {
		fmt.Printf("\nThe control plane and the operator keep running. Use them with:\n\n  export KUBECONFIG=%s\n  %s get zt -A\n\nPress Ctrl-C to stop.\n", kcPath, kubectl)
		<-ctx.Done()
	}
	return nil
}

// waitHTTP polls url until it answers 200 or the timeout passes.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// printMetrics prints the lines of a Prometheus scrape that start with
// prefix.
func printMetrics(ctx context.Context, url, prefix string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("scraping metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, prefix) {
			fmt.Println(line)
		}
	}
	return nil
}
