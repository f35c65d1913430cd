package controllers

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/internal/testkube"
)

// TestKubectl drives the kubectl built by hack/build-k8s.sh against the test
// control plane, as a user would: the printer columns, the field docs of
// kubectl explain, and a server-side dry run of the install manifests.
func TestKubectl(t *testing.T) {
	ctx, g := envtestOnly(t)
	kubectl := newKubectl(ctx, t)
	run := func(args ...string) string {
		t.Helper()
		out, err := kubectl(args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	ns := newNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "")

	out := run("get", "zt", "-n", ns)
	g.Expect(strings.Fields(strings.SplitN(out, "\n", 2)[0])).To(gomega.Equal([]string{"NAME", "READY", "COMPONENTS", "LINKS", "REASON", "AGE"}))
	g.Expect(out).To(gomega.MatchRegexp(`pipeline\s+False\s+0/3\s+0/2\s+ComponentNotReady`))
	out = run("get", "zmqtopologies.zmq.topology.dev", "-n", ns, "-o", "wide")
	g.Expect(strings.Fields(strings.SplitN(out, "\n", 2)[0])).To(gomega.Equal([]string{"NAME", "READY", "COMPONENTS", "LINKS", "REASON", "AGE", "PATTERN", "MESSAGE"}))
	g.Expect(out).To(gomega.ContainSubstring("PUSH-PULL"))
	g.Expect(run("get", "zmq", "-n", ns)).To(gomega.ContainSubstring("pipeline"), "the zmq category lists topologies")

	out = run("explain", "zmqtopology.spec.components.sockets")
	for _, want := range []string{"bind\t<Object>", "connect\t<Object>", "ZMQ_<NAME>_*", "makes the socket listen on a TCP port", "PAIR", "ROUTER"} {
		g.Expect(out).To(gomega.ContainSubstring(want))
	}
	g.Expect(run("explain", "zt.status.conditions")).To(gomega.ContainSubstring("Progressing"))

	// The install manifests pass the API server's validation. A dry run
	// creates nothing, so the namespace they install into must exist.
	g.Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "zmq-operator-system"}})).To(gomega.Succeed())
	out = run("apply", "--dry-run=server", "-k", "config/default")
	for _, want := range []string{
		"customresourcedefinition.apiextensions.k8s.io/zmqtopologies.zmq.topology.dev",
		"clusterrole.rbac.authorization.k8s.io/zmq-operator-manager-role created (server dry run)",
		"deployment.apps/zmq-operator-controller-manager created (server dry run)",
		"validatingwebhookconfiguration.admissionregistration.k8s.io/zmq-operator-validating-webhook-configuration created (server dry run)",
		"service/zmq-operator-webhook-service created (server dry run)",
		"secret/zmq-operator-webhook-server-cert created (server dry run)",
		"rolebinding.rbac.authorization.k8s.io/zmq-operator-manager-rolebinding created (server dry run)",
		"clusterrole.rbac.authorization.k8s.io/zmq-operator-metrics-reader created (server dry run)",
		"clusterrole.rbac.authorization.k8s.io/zmq-operator-metrics-auth-role created (server dry run)",
		"clusterrolebinding.rbac.authorization.k8s.io/zmq-operator-metrics-auth-rolebinding created (server dry run)",
	} {
		g.Expect(out).To(gomega.ContainSubstring(want))
	}

	// The release manifest (`make build-installer`): both images retargeted
	// as `kustomize edit set image` would, and still valid.
	installer := filepath.Join(t.TempDir(), "install.yaml")
	script := exec.CommandContext(ctx, "bash", "hack/build-installer.sh", installer,
		"registry.example:5000/zmq/zmq-operator:v0.0.0-test", "registry.example:5000/zmq/zmq-sidecar:v0.0.0-test")
	script.Dir = ".."
	script.Env = append(os.Environ(), "KUBECTL="+filepath.Join(assetsDir, "kubectl"))
	if b, err := script.CombinedOutput(); err != nil {
		t.Fatalf("hack/build-installer.sh: %v\n%s", err, b)
	}
	manifest, err := os.ReadFile(installer)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	g.Expect(string(manifest)).To(gomega.ContainSubstring("image: registry.example:5000/zmq/zmq-operator:v0.0.0-test\n"))
	g.Expect(string(manifest)).To(gomega.MatchRegexp(`- name: SIDECAR_IMAGE\s+value: registry.example:5000/zmq/zmq-sidecar:v0.0.0-test\n`))
	g.Expect(string(manifest)).NotTo(gomega.ContainSubstring(":dev"), "every image is pinned to the release tag")
	out = run("apply", "--dry-run=server", "-f", installer)
	g.Expect(out).To(gomega.ContainSubstring("deployment.apps/zmq-operator-controller-manager created (server dry run)"))
	g.Expect(run("apply", "--dry-run=server", "-k", "config/samples", "-n", ns)).To(gomega.ContainSubstring("zmqtopology.zmq.topology.dev/pubsub created (server dry run)"))
}

// newKubectl returns a runner of the kubectl built by hack/build-k8s.sh,
// logged in to the test control plane as a cluster admin, run from the
// repository root. It returns kubectl's combined output and its error. The
// test is skipped when there is no kubectl binary.
func newKubectl(ctx context.Context, t *testing.T) func(args ...string) (string, error) {
	t.Helper()
	bin := filepath.Join(assetsDir, "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no kubectl in %s (make k8s-bins builds it)", assetsDir)
	}
	kcPath := testkube.AdminKubeconfig(t, testEnv, "kubectl-test")
	return func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kcPath)
		out, err := cmd.CombinedOutput()
		t.Logf("kubectl %s\n%s", strings.Join(args, " "), out)
		return string(out), err
	}
}
