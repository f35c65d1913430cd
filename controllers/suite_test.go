package controllers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	webhookv1alpha1 "github.com/zmq-operator/zmq-operator/internal/webhook/v1alpha1"
)

// The envtest suite runs a real kube-apiserver and etcd, built from source by
// hack/build-k8s.sh (make k8s-bins), with the CRD from config/crd/bases, the
// validating webhook from config/webhook, and the controller and the
// webhook server running in one manager. envtest runs no other controllers:
// workloads never get pods, so tests patch workload status themselves.
var (
	testEnv    *envtest.Environment
	k8sClient  client.Client // the tests' own client, uncached
	testScheme = k8sruntime.NewScheme()
	renderOpts = render.Options{ClusterDomain: "cluster.local", SidecarImage: "zmq-sidecar:test",
		NetworkPolicy: render.NetworkPolicyOptions{OperatorNamespace: "zmq-system", OperatorPodLabels: map[string]string{"app.kubernetes.io/name": "zmq-operator"}}}
	// managerWrites counts the write requests the manager sends;
	// managerWriteLog lists them.
	managerWrites   atomic.Int64
	managerWriteLog writeLog
	// managerRequests lists every request the manager sends.
	managerRequests requestLog
	skipReason      string
	assetsDir       string // the control-plane binaries, kubectl among them
	// linkPoller is the manager's link poller, with a short period; envtest
	// runs no pods, so it polls only the Pod objects (and stub agents on
	// loopback) that the link tests create.
	linkPoller *linkpoll.Poller
	// linkPods is what linkPoller lists: the cached topology pods.
	linkPods linkpoll.PodSource
	// managerCache reads the manager's cache, as the reconciler does.
	managerCache client.Reader
)

// linkPollPeriod is the link poller's period in the suite.
const linkPollPeriod = 300 * time.Millisecond

// autoscalePeriod is the backlog autoscaler's period in the suite.
const autoscalePeriod = 400 * time.Millisecond

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	utilruntime.Must(clientgoscheme.AddToScheme(testScheme))
	utilruntime.Must(zmqv1.AddToScheme(testScheme))
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(zapLevel())))

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		dir := filepath.Join("..", "bin", "k8s", fmt.Sprintf("1.37.2-%s-%s", runtime.GOOS, runtime.GOARCH))
		if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err == nil {
			assets = dir
		}
	}
	if assets == "" {
		skipReason = "no control plane binaries: run `make k8s-bins` or set KUBEBUILDER_ASSETS (make test does both)"
		return m.Run()
	}
	assetsDir = assets
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join("..", "config", "webhook")},
		},
	}
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	if k8sClient, err = client.New(cfg, client.Options{Scheme: testScheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, err := startManager(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	if err := guardNamespacesUnlessLabelled(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "webhook:", err)
		return 1
	}
	code := m.Run()
	cancel()
	<-done
	return code
}

// zapLevel logs errors only, or everything with TEST_VERBOSE set.
func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// startManager runs the controller as main.go does, with a transport that
// counts the manager's write requests.
func startManager(ctx context.Context, cfg *rest.Config) (<-chan struct{}, error) {
	mcfg := rest.CopyConfig(cfg)
	mcfg.Wrap(countWrites(&managerWrites))
	mcfg.Wrap(managerWriteLog.record)
	mcfg.Wrap(managerRequests.record)
	wo := testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(mcfg, ctrl.Options{
		Scheme: testScheme,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir,
		}),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(),
		Client:                 client.Options{Cache: &client.CacheOptions{EnableReadYourWritesConsistency: ptr.To(true)}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	managerCache = mgr.GetCache()
	if linkPods, err = linkpoll.CachedPods(context.Background(), mgr.GetCache()); err != nil {
		return nil, err
	}
	linkPoller, err = linkpoll.New(linkPods, linkpoll.Options{Period: linkPollPeriod, Tick: 50 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(linkPoller); err != nil {
		return nil, err
	}
	if err := mgr.Add(&BacklogAutoscaler{Client: mgr.GetClient(), Queues: linkPoller, Recorder: mgr.GetEventRecorder("zmq-operator-autoscaler"),
		Period: autoscalePeriod, Registerer: prometheus.NewPedanticRegistry()}); err != nil {
		return nil, err
	}
	unlabelled, err := NewUnlabelledCache(mgr)
	if err != nil {
		return nil, err
	}
	r := &ZMQTopologyReconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Unlabelled: unlabelled,
		Recorder:   mgr.GetEventRecorder("zmq-operator"),
		Render:     renderOpts,
		Links:      linkPoller,
		// As the manager runs.
		ChildEventBatch: DefaultChildEventBatch,
		// Key Secrets are not watched: pick up rotations quickly.
		CurveResync: time.Second,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	if err := webhookv1alpha1.SetupZMQTopologyWebhookWithManager(mgr); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	// Tests start once the webhook serves: before, the API server would
	// refuse every topology (failurePolicy: Fail).
	started := mgr.GetWebhookServer().StartedChecker()
	deadline := time.Now().Add(30 * time.Second)
	for started(nil) != nil {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("webhook server not serving after 30s: %w", started(nil))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return done, nil
}

// unguardedLabel marks the namespaces of this suite that the webhook skips.
// The envtest copy of the webhook configuration, and only it, gets a
// namespaceSelector on this label: topologies in such namespaces stand for
// those the webhook never saw (stored before it was installed, or before a
// rule was added to Validate), which is what the controller's own Validate
// backstops. The shipped configuration has no selector.
const unguardedLabel = "zmq-operator.test/webhook"

// guardNamespacesUnlessLabelled adds that selector to the installed webhook
// configuration and waits until the API server uses it.
func guardNamespacesUnlessLabelled(ctx context.Context) error {
	for _, vwc := range testEnv.WebhookInstallOptions.ValidatingWebhooks {
		live := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: vwc.Name}, live); err != nil {
			return err
		}
		for i := range live.Webhooks {
			live.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: unguardedLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"off"}},
			}}
		}
		if err := k8sClient.Update(ctx, live); err != nil {
			return err
		}
	}
	// The API server reads webhook configurations through an informer: wait
	// until a topology that only the webhook refuses is admitted in an
	// unguarded namespace.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "zt-probe-", Labels: map[string]string{unguardedLabel: "off"}}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		return err
	}
	probe := danglingConnect(ns.Name)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := k8sClient.Create(ctx, probe, client.DryRunAll)
		if err == nil {
			return k8sClient.Delete(ctx, ns)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the webhook still refuses topologies in unguarded namespaces: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// danglingConnect is a topology that passes the CRD's schema and CEL rules
// but not Validate: its worker connects to a socket the ventilator lacks.
func danglingConnect(ns string) *zmqv1.ZMQTopology {
	app := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}
	return &zmqv1.ZMQTopology{
		ObjectMeta: metav1.ObjectMeta{Name: "dangling", Namespace: ns},
		Spec: zmqv1.ZMQTopologySpec{Components: []zmqv1.Component{
			{Name: "ventilator", Template: app.DeepCopy(), Sockets: []zmqv1.Socket{{Name: "tasks", Type: zmqv1.PUSH, Bind: &zmqv1.BindSpec{Port: 5557}}}},
			{Name: "worker", Template: app.DeepCopy(), Sockets: []zmqv1.Socket{{Name: "tasks", Type: zmqv1.PULL, Connect: &zmqv1.ConnectSpec{Component: "ventilator", Socket: "nope"}}}},
		}},
	}
}

// countWrites wraps a transport to count requests that are not reads.
func countWrites(n *atomic.Int64) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			switch req.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
			default:
				n.Add(1)
			}
			return rt.RoundTrip(req)
		})
	}
}

// writeLog records the write requests sent through a transport.
type writeLog struct {
	mu     sync.Mutex
	writes []loggedWrite
}

// loggedWrite is one write request: when, its method and URL path, and
// whether it was a dry run.
type loggedWrite struct {
	at     time.Time
	method string
	path   string
	dryRun bool
}

func (l *writeLog) record(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			l.mu.Lock()
			l.writes = append(l.writes, loggedWrite{at: time.Now(), method: req.Method, path: req.URL.Path, dryRun: req.URL.Query().Has("dryRun")})
			l.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// to lists the writes to one URL path since a time.
func (l *writeLog) to(path string, since time.Time) []loggedWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedWrite
	for _, w := range l.writes {
		if w.path == path && !w.at.Before(since) {
			out = append(out, w)
		}
	}
	return out
}

// under lists the writes to URL paths under a prefix since a time.
func (l *writeLog) under(prefix string, since time.Time) []loggedWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedWrite
	for _, w := range l.writes {
		if strings.HasPrefix(w.path, prefix) && !w.at.Before(since) {
			out = append(out, w)
		}
	}
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// envtestOnly skips a test when no control plane is available.
func envtestOnly(t *testing.T) (context.Context, gomega.Gomega) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx, newGomega(t)
}

// newGomega is gomega.NewWithT with the suite's waits: 30 s for Eventually
// (a loaded machine may take seconds to reconcile), polled every 100 ms,
// and 2 s for Consistently. Subtests use it too: gomega's own 1 s default
// fails under load.
func newGomega(t *testing.T) *gomega.WithT {
	g := gomega.NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	g.SetDefaultConsistentlyDuration(2 * time.Second)
	return g
}

// newNamespace creates a namespace of its own for one test.
func newNamespace(ctx context.Context, t *testing.T) string {
	t.Helper()
	return createNamespace(ctx, t, nil)
}

// newUnguardedNamespace creates a namespace that the webhook skips, for
// tests of the controller's InvalidSpec backstop (see unguardedLabel).
func newUnguardedNamespace(ctx context.Context, t *testing.T) string {
	t.Helper()
	return createNamespace(ctx, t, map[string]string{unguardedLabel: "off"})
}

func createNamespace(ctx context.Context, t *testing.T, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "zt-", Labels: labels}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// loadSample reads a topology from config/samples into namespace ns.
func loadSample(t *testing.T, file, ns string) *zmqv1.ZMQTopology {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	var z zmqv1.ZMQTopology
	if err := yaml.UnmarshalStrict(raw, &z); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	z.Namespace = ns
	return &z
}
