package namespaced

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/internal/manifest"
)

const (
	operatorNS = "zmq-operator-system"
	saName     = "zmq-operator-controller-manager"
	// overlayNS is the watched namespace written in the overlay; the test
	// renames it nsA, as a user following its comment would.
	overlayNS = "zmq-apps"
	nsA       = "ns-a"
	nsB       = "ns-b"
)

var (
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = k8sruntime.NewScheme()
	assets    string
)

func TestMain(m *testing.M) {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(zmqv1.AddToScheme(scheme))
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(zapLevel())))
	assets = os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		dir := filepath.Join("..", "..", "bin", "k8s", fmt.Sprintf("1.37.2-%s-%s", runtime.GOOS, runtime.GOARCH))
		if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err == nil {
			assets = dir
		}
	}
	if assets == "" {
		fmt.Fprintln(os.Stderr, "skipping: no control plane binaries: run `make k8s-bins` or set KUBEBUILDER_ASSETS")
		os.Exit(m.Run())
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	var err error
	if cfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		os.Exit(1)
	}
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// overlayObjects renders config/overlays/namespaced with kubectl kustomize,
// watching nsA instead of zmq-apps.
func overlayObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	out, err := exec.Command(filepath.Join(assets, "kubectl"), "kustomize", filepath.Join("..", "..", "config", "overlays", "namespaced")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	out = bytes.ReplaceAll(out, []byte(overlayNS), []byte(nsA))
	objs, err := manifest.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// requestLog records every request the manager sends: its method, path and
// response code.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		l.mu.Lock()
		l.reqs = append(l.reqs, fmt.Sprintf("%d %s %s", code, req.Method, req.URL.RequestURI()))
		l.mu.Unlock()
		return resp, err
	})
}

func (l *requestLog) matching(pred func(string) bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.reqs {
		if pred(r) {
			out = append(out, r)
		}
	}
	return out
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestNamespacedMode installs the RBAC of config/overlays/namespaced,
// starts a manager as its ServiceAccount with the cache of
// --watch-namespaces=ns-a, and checks that a topology in ns-a becomes Ready
// while one in ns-b is never touched, and that the manager was never refused
// anything: the overlay's RBAC, with no cluster-wide write, is enough.
func TestNamespacedMode(t *testing.T) {
	if cfg == nil {
		t.Skip("no control plane binaries")
	}
	g := gomega.NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	objs := overlayObjects(t)
	checkNoClusterWideWrite(t, objs)
	for _, ns := range []string{nsA, nsB} {
		g.Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(gomega.Succeed())
	}
	for _, u := range objs {
		switch u.GetKind() {
		case "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			g.Expect(k8sClient.Create(ctx, u)).To(gomega.Succeed(), "%s %s", u.GetKind(), u.GetName())
		}
	}

	// The manager authenticates as the operator's ServiceAccount.
	mcfg := rest.CopyConfig(cfg)
	mcfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + operatorNS + ":" + saName,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNS, "system:authenticated"},
	}
	checkWebhookConfigGrant(ctx, t, mcfg)
	log := &requestLog{}
	mcfg.Wrap(log.wrap)
	namespaces := controllers.WatchNamespaces("", nsA) // as from WATCH_NAMESPACE
	mgr, err := ctrl.NewManager(mcfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          true,
		LeaderElectionID:        "zmq-operator.zmq.topology.dev",
		LeaderElectionNamespace: operatorNS,
		Cache:                   controllers.CacheOptions(namespaces...),
		Client:                  client.Options{Cache: &client.CacheOptions{EnableReadYourWritesConsistency: ptr.To(true)}},
	})
	g.Expect(err).NotTo(gomega.HaveOccurred())
	unlabelled, err := controllers.NewUnlabelledCache(mgr, namespaces...)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	g.Expect((&controllers.ZMQTopologyReconciler{
		Client:     mgr.GetClient(),
		Unlabelled: unlabelled,
		Recorder:   mgr.GetEventRecorder("zmq-operator"),
		Render:     render.Options{ClusterDomain: "cluster.local", SidecarImage: "zmq-sidecar:test"},
	}).SetupWithManager(mgr)).To(gomega.Succeed())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()

	sample, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "zmq_v1alpha1_reqrep.yaml"))
	g.Expect(err).NotTo(gomega.HaveOccurred())
	for _, ns := range []string{nsB, nsA} {
		z := &zmqv1.ZMQTopology{}
		g.Expect(yaml.Unmarshal(sample, z)).To(gomega.Succeed())
		z.Namespace = ns
		g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	}

	// ns-a: children appear; once the workloads report ready, so does the
	// topology.
	g.Eventually(func(g gomega.Gomega) {
		ds := &appsv1.DeploymentList{}
		g.Expect(k8sClient.List(ctx, ds, client.InNamespace(nsA))).To(gomega.Succeed())
		g.Expect(ds.Items).NotTo(gomega.BeEmpty())
		for i := range ds.Items {
			d := &ds.Items[i]
			if d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == *d.Spec.Replicas {
				continue
			}
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: *d.Spec.Replicas,
				UpdatedReplicas: *d.Spec.Replicas, ReadyReplicas: *d.Spec.Replicas, AvailableReplicas: *d.Spec.Replicas}
			g.Expect(k8sClient.Status().Update(ctx, d)).To(gomega.Succeed())
		}
		z := &zmqv1.ZMQTopology{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: nsA, Name: "reqrep"}, z)).To(gomega.Succeed())
		c := meta.FindStatusCondition(z.Status.Conditions, zmqv1.ConditionReady)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
	}).WithPolling(200 * time.Millisecond).Should(gomega.Succeed())

	// ns-b: nothing, ever: no status, no finalizer, no children, and not a
	// single request of the manager's went there.
	g.Consistently(func(g gomega.Gomega) {
		z := &zmqv1.ZMQTopology{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: nsB, Name: "reqrep"}, z)).To(gomega.Succeed())
		g.Expect(z.Status.Conditions).To(gomega.BeEmpty())
		g.Expect(z.Status.ObservedGeneration).To(gomega.BeZero())
		g.Expect(z.Finalizers).To(gomega.BeEmpty())
		for _, l := range []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &corev1.ServiceList{}, &corev1.ConfigMapList{}} {
			g.Expect(k8sClient.List(ctx, l, client.InNamespace(nsB), client.HasLabels{render.LabelTopology})).To(gomega.Succeed())
			g.Expect(meta.LenList(l)).To(gomega.BeZero(), "%T in %s", l, nsB)
		}
	}).WithTimeout(3 * time.Second).Should(gomega.Succeed())
	g.Expect(log.matching(func(r string) bool { return strings.Contains(r, "/namespaces/"+nsB+"/") })).To(gomega.BeEmpty())
	g.Expect(log.matching(func(r string) bool { return strings.HasPrefix(r, "403 ") })).To(gomega.BeEmpty(), "requests the overlay's RBAC refused")
	g.Expect(log.matching(func(r string) bool { return strings.Contains(r, "/namespaces/"+nsA+"/") })).NotTo(gomega.BeEmpty())
}

// checkWebhookConfigGrant checks, as the operator, the one cluster-scoped
// grant the overlay gives it: the certificate rotator's own cache
// (cert-controller's) lists and watches every ValidatingWebhookConfiguration,
// and it gets and updates its own only (resourceNames).
func checkWebhookConfigGrant(ctx context.Context, t *testing.T, cfg *rest.Config) {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	const name = "zmq-operator-validating-webhook-configuration"
	l := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := c.List(ctx, l, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)}); err != nil {
		t.Errorf("listing the webhook configuration by name: %v", err)
	}
	if err := c.List(ctx, l); err != nil {
		t.Errorf("listing every webhook configuration (the rotator's cache does): %v", err)
	}
	other := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: "another-webhook-configuration"}, other); !apierrors.IsForbidden(err) {
		t.Errorf("getting another webhook configuration: %v, want forbidden", err)
	}
	if err := c.List(ctx, &corev1.ConfigMapList{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing ConfigMaps cluster-wide: %v, want forbidden", err)
	}
}

// checkNoClusterWideWrite fails unless every cluster-scoped grant to the
// operator's ServiceAccount names the objects it applies to (resourceNames:
// the webhook configuration of the certificate rotator), only reads, or
// only creates access reviews (secure metrics).
func checkNoClusterWideWrite(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	roles := map[string]*rbacv1.ClusterRole{}
	var bindings []*rbacv1.ClusterRoleBinding
	for _, u := range objs {
		switch u.GetKind() {
		case "ClusterRole":
			r := &rbacv1.ClusterRole{}
			utilruntime.Must(k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, r))
			roles[r.Name] = r
		case "ClusterRoleBinding":
			b := &rbacv1.ClusterRoleBinding{}
			utilruntime.Must(k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, b))
			bindings = append(bindings, b)
		case "RoleBinding":
			if ref := u.Object["roleRef"].(map[string]any); ref["kind"] == "ClusterRole" {
				t.Errorf("RoleBinding %s/%s binds ClusterRole %v", u.GetNamespace(), u.GetName(), ref["name"])
			}
		}
	}
	bound := 0
	for _, b := range bindings {
		for _, s := range b.Subjects {
			if s.Kind != "ServiceAccount" || s.Name != saName || s.Namespace != operatorNS {
				continue
			}
			bound++
			r := roles[b.RoleRef.Name]
			if r == nil {
				t.Fatalf("ClusterRoleBinding %s: ClusterRole %s not in the overlay", b.Name, b.RoleRef.Name)
			}
			for _, rule := range r.Rules {
				if len(rule.ResourceNames) == 0 && !isReview(rule) && !readOnly(rule) {
					t.Errorf("ClusterRole %s grants %v on all %v of the cluster", r.Name, rule.Verbs, rule.Resources)
				}
			}
		}
	}
	if bound == 0 {
		t.Error("the operator has no ClusterRoleBinding: the certificate rotator needs the webhook configuration's")
	}
}

// readOnly reports whether rule only reads (get, list, watch).
func readOnly(rule rbacv1.PolicyRule) bool {
	for _, v := range rule.Verbs {
		if v != "get" && v != "list" && v != "watch" {
			return false
		}
	}
	return len(rule.Verbs) > 0
}

// isReview reports whether rule only lets the operator ask the API server
// who a caller is and what it may do (TokenReview, SubjectAccessReview:
// what secure metrics' authn/authz filter sends). Creating a review stores
// nothing.
func isReview(rule rbacv1.PolicyRule) bool {
	if !slices.Equal(rule.Verbs, []string{"create"}) {
		return false
	}
	for _, r := range rule.Resources {
		if r != "tokenreviews" && r != "subjectaccessreviews" {
			return false
		}
	}
	return len(rule.Resources) > 0
}
