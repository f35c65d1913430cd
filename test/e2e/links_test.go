//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/deploy"
)

// TestLinkDown runs the pipeline sample and makes its ventilator stop
// accepting connections from other pods: a REJECT (TCP reset) rule on port
// 5557 in the ventilator pod's network namespace, for traffic that does not
// come over loopback. To the workers the ventilator no longer listens; its
// own sidecar still reaches it on 127.0.0.1, so it stays Ready, as the
// workers do (their readiness never depends on their peers). Within two
// poll periods of the sidecars noticing, `kubectl get zt` shows LINKS 1/2
// and Degraded=True, reason LinkDown, naming a worker pod and the
// ventilator; after the rule goes, the topology is Ready again.
func TestLinkDown(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-links")
	const probeInterval = time.Second
	manifest := strings.Replace(sample(t, "zmq_v1alpha1_pipeline.yaml"), "spec:\n",
		fmt.Sprintf("spec:\n  sidecar: {probeIntervalSeconds: %d}\n", int(probeInterval.Seconds())), 1)
	applyManifest(ctx, t, ns, manifest)
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/pipeline", "--timeout=240s")
	period := linkPollPeriod(ctx, t)
	t.Logf("link poll period %s, sidecar probe interval %s", period, probeInterval)

	eventually(t, 4*period+30*time.Second, "every expected connection up", func() error {
		got := linkColumns(ctx, t, ns)
		if got != "2/2 3/3 3/3" {
			return fmt.Errorf("LINKS, tasks and results connections = %q", got)
		}
		return nil
	})

	vent := pods(ctx, t, ns, "pipeline", "ventilator")
	if len(vent) != 1 {
		t.Fatalf("ventilator pods %+v", vent)
	}
	netns := podNetns(t, vent[0].IP)
	rule := []string{"INPUT", "-p", "tcp", "--dport", "5557", "!", "-i", "lo", "-j", "REJECT", "--reject-with", "tcp-reset"}
	iptables := func(op string) error {
		out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + netns, "iptables", op}, rule...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables %s in %s: %w: %s", op, netns, err, out)
		}
		return nil
	}
	if err := iptables("-I"); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	removed := false
	defer func() {
		if !removed {
			_ = iptables("-D")
		}
	}()

	var degraded string
	eventually(t, 2*period+probeInterval+time.Minute, "LINKS 1/2 and Degraded=True LinkDown", func() error {
		allPodsReady(ctx, t, ns)
		if got := strings.Fields(linkColumns(ctx, t, ns)); len(got) == 0 || got[0] != "1/2" {
			return fmt.Errorf("LINKS, connections = %q", got)
		}
		degraded = mustKubectl(ctx, t, "-n", ns, "get", "zt", "pipeline", "-o",
			`jsonpath={.status.conditions[?(@.type=="Degraded")].status}|{.status.conditions[?(@.type=="Degraded")].reason}|{.status.conditions[?(@.type=="Degraded")].message}`)
		if !strings.HasPrefix(degraded, "True|LinkDown|") {
			return fmt.Errorf("Degraded = %q", degraded)
		}
		return nil
	})
	took := time.Since(cut)
	t.Logf("LinkDown %s after the cut: %s\n%s", took.Round(100*time.Millisecond), degraded, mustKubectl(ctx, t, "-n", ns, "get", "zt", "pipeline"))
	if limit := 2*period + probeInterval + 3*time.Second; took > limit {
		t.Errorf("LinkDown took %s, more than two poll periods after the sidecars' probe (%s)", took, limit)
	}
	// The pair: a worker pod and the ventilator (its Service), refused.
	workers := pods(ctx, t, ns, "pipeline", "worker")
	named := false
	for _, w := range workers {
		if strings.Contains(degraded, w.Name+" -> pipeline-ventilator: connection refused") {
			named = true
		}
	}
	if !named {
		t.Errorf("Degraded does not name a worker pod and the ventilator: %q", degraded)
	}
	if status, reason, _ := readyCondition(ctx, t, ns, "pipeline"); status != "False" || reason != "LinkDown" {
		t.Errorf("Ready = %s %s; want False LinkDown", status, reason)
	}
	// Pods stay Ready while the link is down (sampled over a few periods).
	for end := time.Now().Add(2 * period); time.Now().Before(end); time.Sleep(period / 2) {
		allPodsReady(ctx, t, ns)
	}

	// Recovery.
	if err := iptables("-D"); err != nil {
		t.Fatal(err)
	}
	removed = true
	waitReady(ctx, t, ns, "pipeline", 2*time.Minute)
	eventually(t, time.Minute, "LINKS 2/2 and Degraded=False", func() error {
		if got := linkColumns(ctx, t, ns); got != "2/2 3/3 3/3" {
			return fmt.Errorf("LINKS, connections = %q", got)
		}
		if s := mustKubectl(ctx, t, "-n", ns, "get", "zt", "pipeline", "-o", `jsonpath={.status.conditions[?(@.type=="Degraded")].status}`); s != "False" {
			return fmt.Errorf("Degraded = %s", s)
		}
		return nil
	})
	allPodsReady(ctx, t, ns)
}

// linkColumns is "<linksReady> <up>/<expected> of the tasks link
// <up>/<expected> of the results link".
func linkColumns(ctx context.Context, t *testing.T, ns string) string {
	t.Helper()
	return mustKubectl(ctx, t, "-n", ns, "get", "zt", "pipeline", "-o",
		`jsonpath={.status.linksReady} {.status.links[0].connectionsUp}/{.status.links[0].expectedConnections} {.status.links[1].connectionsUp}/{.status.links[1].expectedConnections}`)
}

// allPodsReady fails the test when a pod of the pipeline is not Ready.
func allPodsReady(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	for _, c := range []string{"ventilator", "worker", "sink"} {
		for _, p := range pods(ctx, t, ns, "pipeline", c) {
			if !p.Ready {
				t.Errorf("pod %s is not Ready", p.Name)
			}
		}
	}
}

// linkPollPeriod reads --link-poll-period from the manager's Deployment
// (the default when the flag is absent).
func linkPollPeriod(ctx context.Context, t *testing.T) time.Duration {
	t.Helper()
	args := mustKubectl(ctx, t, "-n", deploy.Namespace, "get", "deployments", "-o", `jsonpath={.items[*].spec.template.spec.containers[*].args}`)
	for _, f := range strings.FieldsFunc(args, func(r rune) bool { return r == ',' || r == '[' || r == ']' || r == '"' || r == ' ' }) {
		if v, ok := strings.CutPrefix(f, "--link-poll-period="); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("--link-poll-period=%s: %v", v, err)
			}
			return d
		}
	}
	return 15 * time.Second
}

// podNetns finds the network namespace (as containerd pinned it under the
// cluster's work directory) that holds ip.
func podNetns(t *testing.T, ip string) string {
	t.Helper()
	var found string
	root := filepath.Join(repoRoot, ".e2e-cluster")
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return nil
		}
		if d.IsDir() && (d.Name() == "rootfs" || d.Name() == "snapshots" || d.Name() == "content") {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Base(filepath.Dir(path)) != "netns" {
			return nil
		}
		out, err := exec.Command("nsenter", "--net="+path, "ip", "-4", "-o", "addr", "show").CombinedOutput()
		if err == nil && strings.Contains(string(out), " "+ip+"/") {
			found = path
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no network namespace under %s holds %s", root, ip)
	}
	return found
}
