//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/deploy"
)

// TestNamespaced runs in the namespaced pass (the chart installed with
// watchNamespaces={ns-a}): a topology in ns-a becomes Ready, the same
// topology in ns-b is never touched (no children, no status, no
// finalizer), and the operator's ServiceAccount can write nothing outside
// ns-a.
func TestNamespaced(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if installMethod != namespacedPass {
		t.Skip("runs in the namespaced pass only")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	newNamespace(ctx, t, unwatchedNS)
	t.Cleanup(func() { _, _ = kubectl(context.Background(), "delete", "namespace", watchedNS, "--wait=false") })

	// The webhook validates ns-a only: the suite's dry run in default does
	// not wait for it, so the first write may be refused for a moment.
	eventually(t, time.Minute, "pipeline applied in "+watchedNS, func() error {
		_, err := k.RunStdin(ctx, sample(t, "zmq_v1alpha1_pipeline.yaml"), "-n", watchedNS, "apply", "-f", "-")
		return err
	})
	applyManifest(ctx, t, unwatchedNS, sample(t, "zmq_v1alpha1_pipeline.yaml"))
	waitReady(ctx, t, watchedNS, "pipeline", 4*time.Minute)
	for _, c := range []string{"ventilator", "worker", "sink"} {
		if ps := pods(ctx, t, watchedNS, "pipeline", c); len(ps) == 0 {
			t.Errorf("%s/%s: no pods", watchedNS, c)
		}
	}

	// ns-b's topology was created before ns-a's became Ready: an operator
	// watching it would have acted on it by now; look once more after a
	// few seconds.
	time.Sleep(5 * time.Second)
	out := mustKubectl(ctx, t, "-n", unwatchedNS, "get", "zt", "pipeline", "-o",
		"jsonpath={.metadata.finalizers}|{.status}")
	if out != "|" {
		t.Errorf("%s/pipeline was touched: finalizers|status = %q", unwatchedNS, out)
	}
	children := mustKubectl(ctx, t, "-n", unwatchedNS, "get", "deployments,statefulsets,pods,services,configmaps",
		"-l", "zmq.topology.dev/topology=pipeline", "-o", "name")
	if strings.TrimSpace(children) != "" {
		t.Errorf("%s/pipeline has children:\n%s", unwatchedNS, children)
	}

	// RBAC: the ServiceAccount writes in ns-a, and nowhere else.
	sa := "system:serviceaccount:" + deploy.Namespace + ":zmq-operator"
	// canI asks for resource, or resource/subresource.
	canI := func(verb, resource string, scope ...string) bool {
		args := []string{"auth", "can-i", verb, resource, "--as", sa}
		if r, sub, ok := strings.Cut(resource, "/"); ok {
			args = []string{"auth", "can-i", verb, r, "--subresource=" + sub, "--as", sa}
		}
		out, _ := kubectl(ctx, append(args, scope...)...)
		return strings.TrimSpace(out) == "yes"
	}
	resources := []string{"pods", "deployments.apps", "statefulsets.apps", "services", "configmaps", "secrets", "zmqtopologies.zmq.topology.dev", "zmqtopologies.zmq.topology.dev/status"}
	var wide []string
	for _, res := range resources {
		for _, verb := range []string{"create", "update", "patch", "delete"} {
			if canI(verb, res, "--all-namespaces") {
				wide = append(wide, verb+" "+res+" (all namespaces)")
			}
			if canI(verb, res, "-n", unwatchedNS) {
				wide = append(wide, verb+" "+res+" in "+unwatchedNS)
			}
		}
	}
	if len(wide) > 0 {
		t.Errorf("the operator's ServiceAccount may write outside %s: %s", watchedNS, strings.Join(wide, ", "))
	}
	for _, w := range [][2]string{{"create", "deployments.apps"}, {"patch", "zmqtopologies.zmq.topology.dev/status"}} {
		if !canI(w[0], w[1], "-n", watchedNS) {
			t.Errorf("the operator's ServiceAccount cannot %s %s in %s", w[0], w[1], watchedNS)
		}
	}
	crbs := mustKubectl(ctx, t, "get", "clusterrolebindings", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.roleRef.name} {range .subjects[*]}{.namespace}/{.name},{end}{"\n"}{end}`)
	var bound []string
	for _, l := range strings.Split(crbs, "\n") {
		if strings.Contains(l, " "+deploy.Namespace+"/zmq-operator,") {
			bound = append(bound, l)
		}
	}
	t.Logf("ClusterRoleBindings of %s: %q", sa, bound)
}
