//go:build e2e

// Package e2e runs zmq-operator on a real single-node Kubernetes (containerd,
// kubelet, kube-proxy, CoreDNS, controller-manager, scheduler; all built from
// source, see package cluster), deployed the way a user deploys it
// (the images pushed to a registry on the node, then `helm install` of
// charts/zmq-operator, and again `kubectl apply -f dist/install.yaml`), with the sample topologies exchanging
// real ZeroMQ messages. Run it with `make test-e2e` (root, Linux).
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/cluster"
	"github.com/zmq-operator/zmq-operator/test/e2e/deploy"
)

var (
	repoRoot   string
	kubectlBin string
	k          deploy.Kubectl
	skipReason string
	// examplesImage is the examples image in the node's registry; the
	// samples' zmq-operator-examples:dev is replaced by it.
	examplesImage = "zmq-operator-examples:dev"
	// sidecarImage is the zmq-sidecar image in the node's registry.
	sidecarImage = "zmq-sidecar:dev"
	// installMethod is how the operator is installed in this pass.
	installMethod string
)

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	binDir := os.Getenv("K8S_BIN")
	if binDir == "" {
		binDir = filepath.Join(repoRoot, "bin", "k8s", fmt.Sprintf("1.37.2-%s-%s", runtime.GOOS, runtime.GOARCH))
	}
	kubectlBin = filepath.Join(binDir, "kubectl")

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := cluster.Up(ctx, cluster.Config{
		WorkDir: filepath.Join(repoRoot, ".e2e-cluster"),
		BinDir:  binDir,
		Log:     os.Stdout,
		Owner:   os.Getpid(), // a timed-out run's cluster is reclaimed by the next
	})
	if errors.Is(err, cluster.ErrUnsupported) {
		skipReason = err.Error()
		return m.Run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster up:", err)
		return 1
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer dcancel()
		if err := c.Down(dctx); err != nil {
			fmt.Fprintln(os.Stderr, "cluster down:", err)
		}
	}()
	fmt.Printf("==> cluster up in %s\n", time.Since(start).Round(time.Second))
	k = deploy.Kubectl{Bin: kubectlBin, Kubeconfig: c.Kubeconfig()}
	start = time.Now()
	reg := deploy.Registry{Host: c.Registry(), Tag: "e2e"}
	if err := deploy.PushImages(ctx, repoRoot, reg); err != nil {
		fmt.Fprintln(os.Stderr, "pushing the images:", err)
		return 1
	}
	examplesImage = reg.Examples()
	sidecarImage = reg.Sidecar()
	fmt.Printf("==> images pushed to the node's registry in %s: %s, %s, %s\n", time.Since(start).Round(time.Second), reg.Manager(), reg.Sidecar(), reg.Examples())

	// The suite runs once per install method, the operator uninstalled in
	// between; a last pass installs the chart in namespaced mode for
	// TestNamespaced alone. E2E_INSTALL=helm, install.yaml or namespaced
	// runs one pass.
	// The chart passes poll the sidecars and decide backlog autoscaling
	// every 3s (TestLinkDown and TestBacklogAutoscaling read the periods
	// from the Deployment; install.yaml keeps the 15s defaults).
	fastPoll := []string{"--set", "linkPoll.period=3s", "--set", "autoscale.period=3s"}
	passes := []pass{{deploy.Helm, deploy.Helm, fastPoll}, {deploy.Installer, deploy.Installer, nil},
		{namespacedPass, deploy.Helm, append([]string{"--set", "watchNamespaces={" + watchedNS + "}"}, fastPoll...)}}
	if only := os.Getenv("E2E_INSTALL"); only != "" {
		passes = slices.DeleteFunc(passes, func(p pass) bool { return p.name != only })
	}
	code := 0
	for i, p := range passes {
		if i > 0 {
			start = time.Now()
			if err := waitNamespacesGone(ctx, "e2e-"); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if err := deploy.Uninstall(ctx, k, repoRoot, passes[i-1].method); err != nil {
				fmt.Fprintln(os.Stderr, "uninstalling the operator:", err)
				return 1
			}
			fmt.Printf("==> operator (%s) uninstalled in %s\n", passes[i-1].name, time.Since(start).Round(time.Second))
		}
		if p.name == namespacedPass {
			// The chart's Roles go into the watched namespaces: they must exist.
			if _, err := kubectl(ctx, "create", "namespace", watchedNS); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		start = time.Now()
		if err := deploy.Install(ctx, k, repoRoot, p.method, reg, p.helmArgs...); err != nil {
			fmt.Fprintf(os.Stderr, "installing the operator (%s): %v\n", p.name, err)
			dumpOperator(context.Background())
			return 1
		}
		installMethod = p.name
		fmt.Printf("==> operator installed (%s) in %s, every image pulled from %s\n", p.name, time.Since(start).Round(time.Second), reg.Host)
		if c := m.Run(); c != 0 {
			fmt.Fprintf(os.Stderr, "==> FAIL with the operator installed by %s\n", p.name)
			dumpOperator(context.Background())
			code = c
		} else {
			fmt.Printf("==> PASS with the operator installed by %s\n", p.name)
		}
	}
	return code
}

// A pass installs the operator one way and runs the suite.
type pass struct {
	name, method string
	helmArgs     []string
}

// The namespaced pass: the chart with watchNamespaces={ns-a}.
const (
	namespacedPass = "namespaced"
	watchedNS      = "ns-a"
	unwatchedNS    = "ns-b"
)

// waitNamespacesGone waits until no namespace named prefix* exists: the
// tests delete theirs without waiting, and the next pass recreates them.
func waitNamespacesGone(ctx context.Context, prefix string) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err := kubectl(ctx, "get", "namespaces", "-o", "name")
		if err != nil {
			return err
		}
		var left []string
		for _, n := range strings.Fields(out) {
			if strings.HasPrefix(strings.TrimPrefix(n, "namespace/"), prefix) {
				left = append(left, n)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespaces still terminating after 3m: %v", left)
		}
		time.Sleep(time.Second)
	}
}

func dumpOperator(ctx context.Context) {
	out, _ := kubectl(ctx, "-n", "zmq-operator-system", "logs", "deployment/zmq-operator-controller-manager", "--tail=100")
	fmt.Fprintln(os.Stderr, "operator log:\n"+out)
	out, _ = kubectl(ctx, "get", "pods,zt", "-A", "-o", "wide")
	fmt.Fprintln(os.Stderr, out)
}

// kubectl runs kubectl against the e2e cluster and returns its stdout.
func kubectl(ctx context.Context, args ...string) (string, error) { return k.Run(ctx, args...) }

// e2eOnly skips when the machine cannot run a cluster.
func e2eOnly(t *testing.T) context.Context {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if installMethod == namespacedPass {
		t.Skip("the namespaced pass runs TestNamespaced only")
	}
	t.Logf("operator installed with %s", installMethod)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// featureOnly is e2eOnly for a test of a feature rather than of an install
// method: it runs in the helm pass only, so that the install.yaml pass
// checks the installer with the samples and the suite stays short.
func featureOnly(t *testing.T) context.Context {
	t.Helper()
	ctx := e2eOnly(t)
	if installMethod != deploy.Helm {
		t.Skipf("a feature test: runs in the %s pass only", deploy.Helm)
	}
	return ctx
}

// mustKubectl runs kubectl and fails the test on error.
func mustKubectl(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newNamespace creates a namespace that is deleted when the test ends.
func newNamespace(ctx context.Context, t *testing.T, name string) string {
	t.Helper()
	mustKubectl(ctx, t, "create", "namespace", name)
	t.Cleanup(func() {
		_, _ = kubectl(context.Background(), "delete", "namespace", name, "--wait=false")
	})
	return name
}

// eventually retries f every 500 ms until it returns nil or the timeout
// passes, then fails with f's last error.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type pod = deploy.Pod

// pods lists the running pods of a component.
func pods(ctx context.Context, t *testing.T, ns, topology, component string) []pod {
	t.Helper()
	ps, err := deploy.Pods(ctx, k, ns, topology, component)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func stats(ctx context.Context, p pod, into any) error { return deploy.Stats(ctx, p, into) }

func setPaused(ctx context.Context, p pod, paused bool) error {
	return deploy.SetPaused(ctx, p, paused)
}

// applySample applies a sample topology into ns and waits for Ready.
func applySample(ctx context.Context, t *testing.T, ns, file, name string) {
	t.Helper()
	applyManifest(ctx, t, ns, sample(t, file))
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/"+name, "--timeout=240s")
}

// sample returns a sample topology of config/samples, its example workloads
// pulling from the node's registry.
func sample(t *testing.T, file string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	return withImages(string(raw))
}

// withImages points a manifest's example workloads at the node's registry.
func withImages(manifest string) string {
	return strings.ReplaceAll(manifest, "zmq-operator-examples:dev", examplesImage)
}

// readyCondition returns the Ready condition's status, reason and message.
func readyCondition(ctx context.Context, t *testing.T, ns, name string) (status, reason, message string) {
	t.Helper()
	out := mustKubectl(ctx, t, "-n", ns, "get", "zt", name, "-o",
		`jsonpath={.status.conditions[?(@.type=="Ready")].status}|{.status.conditions[?(@.type=="Ready")].reason}|{.status.conditions[?(@.type=="Ready")].message}`)
	parts := strings.SplitN(out, "|", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

// waitReady waits until the topology's status describes its current
// generation and says Ready=True: after a spec change, `kubectl wait` alone
// would accept the previous generation's Ready.
func waitReady(ctx context.Context, t *testing.T, ns, name string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, name+" Ready at its current generation", func() error {
		out := mustKubectl(ctx, t, "-n", ns, "get", "zt", name, "-o",
			`jsonpath={.metadata.generation} {.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].observedGeneration} {.status.conditions[?(@.type=="Ready")].status}`)
		f := strings.Fields(out)
		if len(f) != 4 || f[0] != f[1] || f[0] != f[2] || f[3] != "True" {
			return fmt.Errorf("generation, observed, Ready's observed, Ready = %q", out)
		}
		return nil
	})
}
