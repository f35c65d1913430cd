// Package testkube starts a real kube-apiserver and etcd (envtest) for
// tests that drive it the way a user does, with kubectl and an admin
// kubeconfig: the chart's server dry run, the Argo CD install command.
package testkube

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Cluster is a running control plane, stopped when the test ends.
type Cluster struct {
	// Client speaks to it with client-go's scheme (built-in kinds).
	Client client.Client
	// Assets is the absolute directory of the control-plane binaries and
	// kubectl.
	Assets string
	// Kubeconfig is the path of a system:masters user's kubeconfig.
	Kubeconfig string
}

// Start starts etcd and kube-apiserver with crds installed, or skips the
// test when no binaries are found: $KUBEBUILDER_ASSETS, else the
// repository's bin/k8s/1.37.2-<os>-<arch> (make k8s-bins builds them).
func Start(t testing.TB, crds ...*apiextensionsv1.CustomResourceDefinition) *Cluster {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = repoAssets()
	}
	if assets == "" {
		t.Skip("no control plane binaries: run `make k8s-bins` or set KUBEBUILDER_ASSETS (make test does both)")
	}
	// Absolute, so that commands run from other directories find kubectl.
	assets, err := filepath.Abs(assets)
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDs: crds}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &Cluster{Client: c, Assets: assets, Kubeconfig: AdminKubeconfig(t, env, "testkube-admin")}
}

// AdminKubeconfig adds a system:masters user named name to a running
// envtest control plane and returns the path of its kubeconfig, in a
// directory removed when the test ends.
func AdminKubeconfig(t testing.TB, env *envtest.Environment, name string) string {
	t.Helper()
	user, err := env.ControlPlane.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Kubectl runs the control plane's kubectl with the admin kubeconfig and
// stdin, returning its combined output.
func (c *Cluster) Kubectl(stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.Assets, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd.CombinedOutput()
}

// repoAssets finds bin/k8s/1.37.2-<os>-<arch> in the directory of the
// module's go.mod, walking up from the working directory; "" if absent.
func repoAssets() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			bin := filepath.Join(dir, "bin", "k8s", fmt.Sprintf("1.37.2-%s-%s", runtime.GOOS, runtime.GOARCH))
			if _, err := os.Stat(filepath.Join(bin, "kube-apiserver")); err == nil {
				return bin
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
