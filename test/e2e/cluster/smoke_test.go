//go:build e2e

package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/cluster"
	"github.com/zmq-operator/zmq-operator/test/e2e/images"
)

// Run with (as root, from test/e2e):
//
//	go test -tags e2e -v -count=1 -timeout 15m ./cluster/
//
// E2E_WORK_DIR and E2E_BIN_DIR override the work and binary directories.

func binDir(t *testing.T) string {
	if d := os.Getenv("E2E_BIN_DIR"); d != "" {
		return d
	}
	mod, err := images.ModuleDir()
	if err != nil {
		t.Skip(err)
	}
	return filepath.Join(mod, "..", "..", "bin", "k8s", "1.37.2-"+runtime.GOOS+"-"+runtime.GOARCH)
}

func workDir(t *testing.T) string {
	if d := os.Getenv("E2E_WORK_DIR"); d != "" {
		return d
	}
	// A fixed directory: logs survive a failed run, and Up cleans up the
	// state of a previous run that died.
	return filepath.Join(os.TempDir(), "zmq-e2e-"+t.Name())
}

const webManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: %s
        imagePullPolicy: Never
        args: [serve]
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

const httpechoImage = "localhost/zmq-e2e/httpecho:dev"

func TestSmoke(t *testing.T) {
	if err := cluster.Preflight(binDir(t)); err != nil {
		if errors.Is(err, cluster.ErrUnsupported) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	mod, err := images.ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	tar := filepath.Join(t.TempDir(), "httpecho.tar")
	t0 := time.Now()
	if err := images.BuildGoImage(ctx, mod, "./cmd/httpecho", httpechoImage, tar); err != nil {
		t.Fatal(err)
	}
	t.Logf("httpecho image built in %.1fs", time.Since(t0).Seconds())

	t0 = time.Now()
	c, err := cluster.Up(ctx, cluster.Config{WorkDir: workDir(t), BinDir: binDir(t), Log: testWriter{t}, Owner: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING up: %.1fs", time.Since(t0).Seconds())
	downDone := false
	defer func() {
		if !downDone {
			dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer dcancel()
			if err := c.Down(dctx); err != nil {
				t.Errorf("down: %v", err)
			}
		}
	}()

	t.Run("workload", func(t *testing.T) {
		if err := c.ImportImage(ctx, tar); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		if err := c.Apply(ctx, fmt.Sprintf(webManifest, httpechoImage)); err != nil {
			t.Fatal(err)
		}
		if out, err := c.Kubectl(ctx, "rollout", "status", "deployment/web", "--timeout=120s"); err != nil {
			dump(ctx, t, c)
			t.Fatalf("%v\n%s", err, out)
		}
		t.Logf("TIMING deployment Ready: %.1fs", time.Since(t0).Seconds())

		pods, err := c.Kubectl(ctx, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}")
		if err != nil {
			t.Fatal(err)
		}
		names := strings.Fields(pods)
		if len(names) != 2 {
			t.Fatalf("want 2 pods, got %q", pods)
		}
		if ready, err := c.Kubectl(ctx, "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}"); err != nil || ready != "2" {
			t.Fatalf("readyReplicas = %q, %v", ready, err)
		}
		peerIP, err := c.Kubectl(ctx, "get", "pod", names[1], "-o", "jsonpath={.status.podIP}")
		if err != nil {
			t.Fatal(err)
		}
		clusterIP, err := c.Kubectl(ctx, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
		if err != nil {
			t.Fatal(err)
		}
		exec := func(args ...string) (string, error) {
			// Retry briefly: kube-proxy and CoreDNS pick up new Services
			// asynchronously.
			var out string
			var err error
			for i := 0; i < 20; i++ {
				out, err = c.Kubectl(ctx, append([]string{"exec", names[0], "--"}, args...)...)
				if err == nil {
					return out, nil
				}
				time.Sleep(500 * time.Millisecond)
			}
			return out, err
		}
		// pod -> pod over the CNI bridge.
		if out, err := exec("/httpecho", "get", "http://"+peerIP+":8080/"); err != nil || !strings.Contains(out, names[1]) {
			t.Errorf("pod -> pod %s: %q, %v", peerIP, out, err)
		} else {
			t.Logf("pod -> http://%s:8080/: %q", peerIP, out)
		}
		// pod -> Service by ClusterIP (kube-proxy, iptables mode).
		out, err := exec("/httpecho", "get", "http://"+clusterIP+"/")
		t.Logf("pod -> http://%s/: %q", clusterIP, out)
		if err != nil || !strings.Contains(out, "hello from web-") {
			t.Errorf("pod -> ClusterIP %s: %q, %v", clusterIP, out, err)
		}
		// Cluster DNS: FQDN and short name (search path).
		fqdn := "web.default.svc." + c.Config().ClusterDomain
		out, err = exec("/httpecho", "lookup", fqdn)
		t.Logf("lookup %s: %q", fqdn, out)
		if err != nil || strings.TrimSpace(out) != clusterIP {
			t.Errorf("lookup %s: %q, %v (want %s)", fqdn, out, err, clusterIP)
		}
		for _, u := range []string{"http://" + fqdn + "/", "http://web/"} {
			out, err = exec("/httpecho", "get", u)
			t.Logf("pod -> %s: %q", u, out)
			if err != nil || !strings.Contains(out, "hello from web-") {
				t.Errorf("pod -> %s: %q, %v", u, out, err)
			}
		}
		// pod -> apiserver through the kubernetes Service.
		out, err = exec("/httpecho", "lookup", "kubernetes.default")
		if err != nil || strings.TrimSpace(out) != c.Config().APIServerIP() {
			t.Errorf("lookup kubernetes.default: %q, %v", out, err)
		}
		out, err = exec("/httpecho", "dial", "kubernetes.default.svc:443")
		if err != nil {
			t.Errorf("pod -> kubernetes.default.svc:443: %q, %v", out, err)
		} else {
			t.Logf("pod -> kubernetes.default.svc:443: %q", out)
		}
		// Names outside the cluster domain are not resolved (nothing leaves
		// the machine).
		if out, err := c.Kubectl(ctx, "exec", names[0], "--", "/httpecho", "lookup", "example.com"); err == nil {
			t.Errorf("lookup example.com resolved: %q", out)
		} else {
			t.Logf("lookup example.com fails as it should: %v", err)
		}
		// kubectl logs goes apiserver -> kubelet.
		if out, err := c.Kubectl(ctx, "logs", names[1]); err != nil || !strings.Contains(out, "listening on") {
			t.Errorf("logs: %q, %v", out, err)
		}
		if t.Failed() {
			dump(ctx, t, c)
		}
	})

	if pss := pssMiB(c); pss > 0 {
		t.Logf("PSS of the components: %.0f MiB", pss)
	}

	t0 = time.Now()
	dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer dcancel()
	downDone = true
	if err := c.Down(dctx); err != nil {
		t.Fatalf("down: %v", err)
	}
	t.Logf("TIMING down: %.1fs", time.Since(t0).Seconds())
	if left := c.Leftovers(dctx); len(left) > 0 {
		t.Errorf("left after Down:\n  %s", strings.Join(left, "\n  "))
	}
}

// pssMiB adds up the proportional set size of the component processes.
func pssMiB(c *cluster.Cluster) float64 {
	var kb float64
	for _, p := range c.Status().Procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p.PID))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Pss:") {
				var v float64
				fmt.Sscan(strings.Fields(l)[1], &v)
				kb += v
			}
		}
	}
	return kb / 1024
}

func dump(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	for _, args := range [][]string{{"get", "pods", "-A", "-o", "wide"}, {"describe", "pods", "-l", "app=web"}, {"get", "events", "-A"}} {
		out, err := c.Kubectl(ctx, args...)
		t.Logf("kubectl %s:\n%s %v", strings.Join(args, " "), out, err)
	}
	t.Logf("component logs: %s", c.LogDir())
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// brokenSchedulerBins returns a binary directory like the real one whose
// kube-scheduler exits at once, or skips the test where no cluster can run.
func brokenSchedulerBins(t *testing.T) string {
	t.Helper()
	bins := binDir(t)
	if err := cluster.Preflight(bins); err != nil {
		if errors.Is(err, cluster.ErrUnsupported) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	fake := t.TempDir()
	for _, b := range cluster.Binaries {
		if b == "kube-scheduler" {
			if err := os.WriteFile(filepath.Join(fake, b), []byte("#!/bin/sh\necho 'scheduler: simulated failure' >&2\nexit 1\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		abs, _ := filepath.Abs(filepath.Join(bins, b))
		if err := os.Symlink(abs, filepath.Join(fake, b)); err != nil {
			t.Fatal(err)
		}
	}
	return fake
}

// TestUpFailureTearsDown starts a cluster whose kube-scheduler exits at once:
// Up must fail naming kube-scheduler's log and leave nothing behind.
func TestUpFailureTearsDown(t *testing.T) {
	fake := brokenSchedulerBins(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wd := workDir(t)
	c, err := cluster.Up(ctx, cluster.Config{WorkDir: wd, BinDir: fake, Log: testWriter{t}, Owner: os.Getpid()})
	if err == nil {
		_ = c.Down(ctx)
		t.Fatal("Up succeeded with a broken kube-scheduler")
	}
	t.Logf("Up failed as expected: %v", err)
	if want := filepath.Join(wd, "logs", "kube-scheduler.log"); !strings.Contains(err.Error(), want) {
		t.Errorf("error does not name %s", want)
	}
	// Attach sees no state any more (Down succeeded) and nothing is left.
	if _, err := cluster.Attach(wd); err == nil {
		t.Errorf("state.json still present after the failed Up")
	}
	checkHostClean(t, wd)
}

// TestUpReclaimsLeftCluster leaves a partial cluster running (its
// kube-scheduler exits; KeepOnFailure) and orphans it in one of two ways:
// a cluster without an owner (as `cmd/cluster up` starts) has every
// component SIGKILLed, as a stopped CI job or a lost session does, which
// leaves its address, bridge, iptables rules and mounts behind; a cluster
// started for an owner process loses it while the components run, as when
// a test binary times out. Up in another work dir must refuse while the
// cluster is in use, then tear it down and start its own.
func TestUpReclaimsLeftCluster(t *testing.T) {
	fake := brokenSchedulerBins(t)
	for _, tc := range []struct {
		name   string
		owned  bool
		orphan func(t *testing.T, c *cluster.Cluster, owner *exec.Cmd)
	}{
		{"components killed", false, func(t *testing.T, c *cluster.Cluster, _ *exec.Cmd) {
			var killed []string
			for _, p := range c.Status().Procs {
				if p.Alive {
					_ = syscall.Kill(p.PID, syscall.SIGKILL)
					killed = append(killed, p.Name)
				}
			}
			if len(killed) == 0 {
				t.Fatal("the partial cluster has no live process to kill")
			}
			t.Logf("SIGKILLed %s", strings.Join(killed, ", "))
			waitProcs(t, c, 0)
		}},
		{"owner gone", true, func(t *testing.T, c *cluster.Cluster, owner *exec.Cmd) {
			_ = owner.Process.Kill()
			_ = owner.Wait()
			t.Logf("killed the owner, pid %d", owner.Process.Pid)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			owner := exec.Command("sleep", "600")
			if err := owner.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = owner.Process.Kill(); _ = owner.Wait() })
			first, second := filepath.Join(workDir(t), "first"), filepath.Join(workDir(t), "second")
			cfg := cluster.Config{WorkDir: first, BinDir: fake, Log: testWriter{t}, KeepOnFailure: true}
			if tc.owned {
				cfg.Owner = owner.Process.Pid
			}
			c, err := cluster.Up(ctx, cfg)
			if err == nil {
				_ = c.Down(ctx)
				t.Fatal("Up succeeded with a broken kube-scheduler")
			}
			if c == nil {
				t.Fatalf("Up with KeepOnFailure returned no cluster: %v", err)
			}
			t.Cleanup(func() {
				if _, err := cluster.Attach(first); err == nil { // not reclaimed
					_ = c.Down(context.Background())
				}
			})

			_, err = cluster.Up(ctx, cluster.Config{WorkDir: second, BinDir: fake, Log: testWriter{t}, Owner: os.Getpid()})
			if err == nil || !strings.Contains(err.Error(), first) || !strings.Contains(err.Error(), "already running") {
				t.Fatalf("Up beside a cluster in use: got %v, want an error naming %s as running", err, first)
			}
			t.Logf("beside a cluster in use: %v", err)

			tc.orphan(t, c, owner)
			if out, _ := osexec("ip", "-o", "addr", "show", "dev", "lo"); !strings.Contains(out, "10.250.0.1/") {
				t.Fatalf("the orphaned cluster left no address on lo, so this test shows nothing:\n%s", out)
			}

			_, err = cluster.Up(ctx, cluster.Config{WorkDir: second, BinDir: fake, Log: testWriter{t}, Owner: os.Getpid()})
			if err == nil {
				t.Fatal("Up succeeded with a broken kube-scheduler")
			}
			if want := filepath.Join(second, "logs", "kube-scheduler.log"); !strings.Contains(err.Error(), want) {
				t.Fatalf("Up after the orphaning did not reach its own kube-scheduler: %v", err)
			}
			if _, err := cluster.Attach(first); err == nil {
				t.Errorf("the orphaned cluster's state.json is still present")
			}
			waitProcs(t, c, 0)
			checkHostClean(t, first)
		})
	}
}

// TestUpWaitsForAnotherUp starts a cluster (whose kube-scheduler exits)
// and, once its address is on lo and before any of its processes may run,
// a second one in another work dir. The second Up must wait for the first
// to end rather than take the first for a cluster left behind and tear it
// down while it starts; then it starts its own.
func TestUpWaitsForAnotherUp(t *testing.T) {
	fake := brokenSchedulerBins(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	first, second := filepath.Join(workDir(t), "first"), filepath.Join(workDir(t), "second")
	firstErr := make(chan error, 1)
	var firstDone error
	waitFirst := sync.OnceFunc(func() { firstDone = <-firstErr })
	go func() {
		c, err := cluster.Up(ctx, cluster.Config{WorkDir: first, BinDir: fake, Log: testWriter{t}, Owner: os.Getpid()})
		if err == nil {
			_ = c.Down(ctx)
			err = errors.New("Up succeeded with a broken kube-scheduler")
		}
		firstErr <- err
	}()
	t.Cleanup(waitFirst) // it logs to t
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if out, _ := osexec("ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(out, "10.250.0.1/") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first cluster never put its address on lo")
		}
	}
	var log strings.Builder
	_, err := cluster.Up(ctx, cluster.Config{WorkDir: second, BinDir: fake, Log: io.MultiWriter(&log, testWriter{t}), Owner: os.Getpid()})
	if err == nil {
		t.Fatal("Up succeeded with a broken kube-scheduler")
	}
	waitFirst()
	if want := filepath.Join(first, "logs", "kube-scheduler.log"); !strings.Contains(firstDone.Error(), want) {
		t.Errorf("the first Up did not fail at its own kube-scheduler (was it torn down under it?): %v", firstDone)
	}
	if !strings.Contains(log.String(), "waiting for another cluster start") {
		t.Errorf("the second Up did not wait for the first:\n%s", log.String())
	}
	if strings.Contains(log.String(), "reclaiming") {
		t.Errorf("the second Up reclaimed the first:\n%s", log.String())
	}
	if want := filepath.Join(second, "logs", "kube-scheduler.log"); !strings.Contains(err.Error(), want) {
		t.Errorf("the second Up did not reach its own kube-scheduler: %v", err)
	}
	checkHostClean(t, first)
	checkHostClean(t, second)
}

// waitProcs waits up to 10 s until c has n live processes.
func waitProcs(t *testing.T, c *cluster.Cluster, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var alive []string
		for _, p := range c.Status().Procs {
			if p.Alive {
				alive = append(alive, p.Name)
			}
		}
		if len(alive) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes alive after 10s (%s), want %d", len(alive), strings.Join(alive, ", "), n)
		}
	}
}

// checkHostClean fails t if anything a cluster sets up on the host is left:
// the node address, the bridge, iptables rules, mounts under workDir.
func checkHostClean(t *testing.T, workDir string) {
	t.Helper()
	if out, _ := osexec("ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(out, "10.250.0.1/") {
		t.Errorf("10.250.0.1 still on lo")
	}
	if out, _ := osexec("iptables-save"); strings.Contains(out, "KUBE-") || strings.Contains(out, "zmq-e2e") {
		t.Errorf("iptables rules left:\n%s", out)
	}
	if _, err := os.Stat("/sys/class/net/zmqe2e0"); err == nil {
		t.Errorf("bridge left")
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], workDir+"/") {
				t.Errorf("mount left: %s", f[4])
			}
		}
	}
}

func osexec(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
