package charts

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/zmq-operator/zmq-operator/internal/manifest"
	"github.com/zmq-operator/zmq-operator/internal/testkube"
)

const (
	chart     = "charts/zmq-operator" // from the repository root
	release   = "zmq-operator"
	releaseNS = "zmq-operator-system"
)

// root is the repository root, where helm and kubectl run.
var root = func() string {
	d, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	return d
}()

// cases are the value sets every test renders: the defaults, and every
// toggle turned the other way.
var cases = []struct {
	name string
	set  []string
}{
	{"defaults", nil},
	{"namespaced-secure-monitors", []string{
		"watchNamespaces={a,b}", "metrics.secure=true", "serviceMonitor.enabled=true", "podMonitor.enabled=true",
		"image.digest=sha256:" + strings.Repeat("a", 64), "sidecarImage.tag=v9", "sidecarImage.pullPolicy=Always",
		"imagePullSecrets[0].name=regcred", "defaultImagePullSecrets={regcred,other}",
		"nodeSelector.kubernetes\\.io/os=linux", "tolerations[0].operator=Exists", "priorityClassName=system-cluster-critical",
		"leaderElection.enabled=false", "logLevel=debug",
	}},
	{"cert-manager-no-crds", []string{"webhook.certMode=cert-manager", "crds.install=false", "metrics.enabled=false"}},
	{"no-webhook", []string{"webhook.enabled=false", "serviceAccount.create=false", "serviceAccount.name=default"}},
}

// helm runs the pinned helm of hack/tools/go.mod from the repository root.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=" + filepath.Join(root, "hack", "tools", "go.mod"), "helm"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// TestRefused checks that values.schema.json refuses bad values at once.
func TestRefused(t *testing.T) {
	for _, set := range []string{"webhook.certMode=bogus", "watchNamespaces={Bad_NS}", "image.digest=latest", "sidecarImage.pullPolicy=Sometimes"} {
		cmd := exec.Command("go", "tool", "-modfile="+filepath.Join(root, "hack", "tools", "go.mod"), "helm", "template", release, chart, "--set", set)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "values don't meet the specifications of the schema") {
			t.Errorf("--set %s: err %v, want a schema error:\n%s", set, err, out)
		}
	}
}

func setArgs(set []string) []string {
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

func TestLint(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			helm(t, append([]string{"lint", "--strict", chart}, setArgs(c.set)...)...)
		})
	}
}

func render(t *testing.T, set []string) ([]byte, []*unstructured.Unstructured) {
	t.Helper()
	out := helm(t, append([]string{"template", release, chart, "--namespace", releaseNS}, setArgs(set)...)...)
	objs, err := manifest.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, objs
}

func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

func managerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	ds := find(objs, "Deployment")
	if len(ds) != 1 {
		t.Fatalf("%d Deployments, want 1", len(ds))
	}
	cs, _, _ := unstructured.NestedSlice(ds[0].Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(cs[0].(map[string]any), "args")
	return args
}

// TestRender checks what the values change in the rendered manifests.
func TestRender(t *testing.T) {
	_, def := render(t, nil)
	args := managerArgs(t, def)
	for _, want := range []string{"--leader-elect=true", "--metrics-secure=false", "--sidecar-image=ghcr.io/zmq-operator/zmq-sidecar:0.1.0", "--webhook-cert-mode=self-signed"} {
		if !slices.Contains(args, want) {
			t.Errorf("defaults: args %q lack %s", args, want)
		}
	}
	if n := len(find(def, "CustomResourceDefinition")); n != 1 {
		t.Errorf("defaults: %d CRDs, want 1", n)
	}
	if n := len(find(def, "ServiceMonitor")) + len(find(def, "PodMonitor")); n != 0 {
		t.Errorf("defaults: %d monitors, want none", n)
	}

	_, ns := render(t, cases[1].set)
	args = managerArgs(t, ns)
	for _, want := range []string{"--watch-namespaces=a,b", "--metrics-secure=true", "--metrics-bind-address=:8443", "--leader-elect=false",
		"--sidecar-image=ghcr.io/zmq-operator/zmq-sidecar:v9", "--sidecar-image-pull-policy=Always",
		"--default-image-pull-secrets=regcred,other", "--zap-log-level=debug"} {
		if !slices.Contains(args, want) {
			t.Errorf("namespaced: args %q lack %s", args, want)
		}
	}
	if n := len(find(ns, "ServiceMonitor")) + len(find(ns, "PodMonitor")); n != 2 {
		t.Errorf("namespaced: %d monitors, want 2", n)
	}
	// A Role and RoleBinding in each watched namespace; no cluster-wide
	// grant to the operator but on its one webhook configuration (by name)
	// and the reviews secure metrics need.
	for _, want := range []string{"a", "b"} {
		found := false
		for _, r := range find(ns, "RoleBinding") {
			found = found || (r.GetNamespace() == want && r.GetName() == release+"-manager-rolebinding")
		}
		if !found {
			t.Errorf("namespaced: no manager RoleBinding in %s", want)
		}
	}
	roles := map[string]*rbacv1.ClusterRole{}
	for _, u := range find(ns, "ClusterRole") {
		r := &rbacv1.ClusterRole{}
		if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, r); err != nil {
			t.Fatal(err)
		}
		roles[r.Name] = r
	}
	for _, u := range find(ns, "ClusterRoleBinding") {
		b := &rbacv1.ClusterRoleBinding{}
		if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, b); err != nil {
			t.Fatal(err)
		}
		for _, rule := range roles[b.RoleRef.Name].Rules {
			review := slices.Equal(rule.Verbs, []string{"create"}) &&
				(slices.Equal(rule.Resources, []string{"tokenreviews"}) || slices.Equal(rule.Resources, []string{"subjectaccessreviews"}))
			// Reading every object of a kind is no write: the certificate
			// rotator's cache lists and watches every webhook configuration.
			readOnly := !slices.ContainsFunc(rule.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" })
			if len(rule.ResourceNames) == 0 && !review && !readOnly {
				t.Errorf("namespaced: ClusterRole %s grants %v on all %v", b.RoleRef.Name, rule.Verbs, rule.Resources)
			}
		}
	}
	ds := find(ns, "Deployment")[0]
	if img, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "containers"); !strings.HasSuffix(img[0].(map[string]any)["image"].(string), "@sha256:"+strings.Repeat("a", 64)) {
		t.Errorf("namespaced: image %v, want the digest", img[0].(map[string]any)["image"])
	}
}

// TestDryRun applies every rendering with kubectl apply --dry-run=server to
// an envtest API server, with minimal CRDs for the Prometheus Operator's
// monitors and cert-manager's Issuer and Certificate.
func TestDryRun(t *testing.T) {
	kube := testkube.Start(t,
		looseCRD("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"),
		looseCRD("monitoring.coreos.com", "PodMonitor", "podmonitors"),
		looseCRD("cert-manager.io", "Issuer", "issuers"),
		looseCRD("cert-manager.io", "Certificate", "certificates"))
	for _, ns := range []string{releaseNS, "a", "b"} {
		if err := kube.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			manifest, objs := render(t, tc.set)
			out, err := kube.Kubectl(manifest, "apply", "--dry-run=server", "-f", "-")
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
			}
			if got := strings.Count(string(out), "(server dry run)"); got != len(objs) {
				t.Errorf("kubectl applied %d objects, want %d:\n%s", got, len(objs), out)
			}
		})
	}
}

// looseCRD is a namespaced CRD that accepts any object of its kind: enough
// for a server-side dry run of the chart's monitors and certificates
// without their real (large) CRDs.
func looseCRD(group, kind, plural string) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, Plural: plural, ListKind: kind + "List", Singular: strings.ToLower(kind)},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
			}},
		},
	}
}
