package argocd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zmq-operator/zmq-operator/internal/testkube"
)

const healthKey = "resource.customizations.health.zmq.topology.dev_ZMQTopology"

// readmeCommand returns the README's shell command that installs
// health.lua into argocd-cm, so the documented command is the tested one.
func readmeCommand(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(raw), "```sh\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.Contains(block, "patch configmap argocd-cm") {
			return block
		}
	}
	t.Fatal("README.md has no sh block installing health.lua into argocd-cm")
	return ""
}

// TestInstallIntoArgoCDConfigMap runs the README's command against a real
// API server (envtest) holding an argocd-cm with Argo CD's own settings:
// the health check is added beside them, byte for byte, and running it
// again (after health.lua changes) updates it without a conflict.
func TestInstallIntoArgoCDConfigMap(t *testing.T) {
	kube := testkube.Start(t)
	ctx := context.Background()
	kubectl := func(stdin string, args ...string) {
		t.Helper()
		if out, err := kube.Kubectl([]byte(stdin), args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	// Argo CD's install applies argocd-cm client-side with its settings.
	kubectl("", "create", "namespace", "argocd")
	kubectl("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\n  labels: {app.kubernetes.io/part-of: argocd}\ndata:\n  url: https://argocd.example.com\n",
		"apply", "-f", "-")

	script, err := os.ReadFile("health.lua")
	if err != nil {
		t.Fatal(err)
	}
	command := readmeCommand(t)
	for run := 1; run <= 2; run++ {
		sh := exec.Command("bash", "-euo", "pipefail", "-c", command)
		sh.Dir = filepath.Join("..", "..")
		sh.Env = append(os.Environ(), "KUBECONFIG="+kube.Kubeconfig, "PATH="+kube.Assets+":"+os.Getenv("PATH"))
		if out, err := sh.CombinedOutput(); err != nil {
			t.Fatalf("run %d of the README's command: %v\n%s\n%s", run, err, command, out)
		}
		var cm corev1.ConfigMap
		if err := kube.Client.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: "argocd-cm"}, &cm); err != nil {
			t.Fatal(err)
		}
		if cm.Data["url"] != "https://argocd.example.com" || cm.Labels["app.kubernetes.io/part-of"] != "argocd" {
			t.Errorf("run %d: Argo CD's own settings were lost: data %v, labels %v", run, keys(cm.Data), cm.Labels)
		}
		if cm.Data[healthKey] != string(script) {
			t.Errorf("run %d: %s is not health.lua (%d bytes, want %d)", run, healthKey, len(cm.Data[healthKey]), len(script))
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
