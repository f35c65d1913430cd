// Command manager runs the zmq-operator: the ZMQTopology controller, its
// health probes and its metrics endpoint.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/internal/gomemlimit"
	"github.com/zmq-operator/zmq-operator/internal/webhook/certs"
	webhookv1alpha1 "github.com/zmq-operator/zmq-operator/internal/webhook/v1alpha1"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultGCPercent is the manager's GOGC unless the environment sets one.
const defaultGCPercent = 50

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		metricsAddr, probeAddr  string
		leaderElect             bool
		leaderElectionNamespace string
		renderOpts              render.Options
		pullPolicy              string
		webhookPort             int
		webhookCertMode         string
		webhookCerts            certs.Config
		watchNamespaces         string
		metricsSecure           bool
		enableHTTP2             bool
		pullSecrets             string
		linkPoll                linkpoll.Options
		maxConcurrent           int
		apiQPS                  float64
		apiBurst                int
		apiCompression          bool
		childEventBatch         time.Duration
		pprofAddr               string
		operatorNamespace       string
		operatorPodSelector     string
		metricsNamespaces       string
		autoscalePeriod         time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS (a self-signed certificate) to authenticated and authorized clients only (false: plain HTTP to anyone): a bearer token allowed to get the /metrics non-resource URL (the metrics-reader ClusterRole).")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Let the metrics and webhook servers speak HTTP/2; off by default (HTTP/2 Rapid Reset, CVE-2023-44487, and stream cancellation, CVE-2023-39325).")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.BoolVar(&leaderElect, "leader-elect", true, "Elect a leader so that only one replica reconciles.")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease; required outside a cluster.")
	flag.StringVar(&renderOpts.ClusterDomain, "cluster-domain", "cluster.local", "The cluster's DNS domain, used in the endpoints given to connecting sockets.")
	flag.StringVar(&renderOpts.SidecarImage, "sidecar-image", envOr("SIDECAR_IMAGE", "ghcr.io/zmq-operator/zmq-sidecar:"+version), "Image of zmq-sidecar, which runs the devices (Forwarder, Streamer, Queue); defaults to $SIDECAR_IMAGE.")
	flag.StringVar(&pullSecrets, "default-image-pull-secrets", "", "Comma-separated names of image pull Secrets added to every pod the operator renders (application and device pods), in the topology's namespace.")
	flag.StringVar(&pullPolicy, "sidecar-image-pull-policy", "", "Pull policy of the sidecar image (Always, IfNotPresent, Never); empty keeps the Kubernetes default.")
	flag.IntVar(&webhookPort, "webhook-port", webhook.DefaultPort, "Port of the validating webhook's HTTPS server.")
	flag.StringVar(&webhookCertMode, "webhook-cert-mode", string(certs.SelfSigned), fmt.Sprintf("Where the webhook's serving certificate comes from: %s (the operator issues and rotates its own, no cert-manager needed), %s (cert-manager issues it into the same Secret), or %s (no webhook server; for running outside the cluster).", certs.SelfSigned, certs.CertManager, certs.None))
	flag.StringVar(&webhookCerts.CertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "Directory holding the webhook's tls.crt and tls.key (where the certificate Secret is mounted).")
	flag.StringVar(&webhookCerts.Namespace, "webhook-namespace", os.Getenv("POD_NAMESPACE"), "Namespace of the webhook Service and certificate Secret (self-signed mode); defaults to $POD_NAMESPACE.")
	flag.StringVar(&webhookCerts.SecretName, "webhook-secret-name", "zmq-operator-webhook-server-cert", "Secret that holds the self-signed CA and serving certificate (self-signed mode).")
	flag.StringVar(&webhookCerts.ServiceName, "webhook-service-name", "zmq-operator-webhook-service", "Service in front of the webhook server; the certificate is issued for <service>.<namespace>.svc (self-signed mode).")
	flag.StringVar(&webhookCerts.WebhookConfigName, "webhook-config-name", "zmq-operator-validating-webhook-configuration", "ValidatingWebhookConfiguration whose caBundle is kept up to date (self-signed mode).")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch (namespaced mode): topologies elsewhere are never reconciled. Empty: $WATCH_NAMESPACE, and if that is empty too, the whole cluster.")
	flag.DurationVar(&linkPoll.Period, "link-poll-period", linkpoll.DefaultPeriod, "How often the operator polls each topology pod's sidecar (GET /status) for link health; 0 disables polling (status.links then report component readiness only).")
	flag.IntVar(&linkPoll.Workers, "link-poll-workers", linkpoll.DefaultWorkers, "How many sidecar polls may be in flight at once.")
	flag.IntVar(&maxConcurrent, "max-concurrent-reconciles", 8, "Topologies reconciled at once.")
	flag.DurationVar(&childEventBatch, "child-event-batch", controllers.DefaultChildEventBatch, "How long the changes of a topology's children (replicas becoming ready, edits, deletions) are gathered before the topology is reconciled once for all of them; 0 reconciles at each change.")
	flag.Float64Var(&apiQPS, "kube-api-qps", 100, "Sustained requests per second the manager sends to the API server (client-side limit; the API server's priority and fairness limits apply too).")
	flag.IntVar(&apiBurst, "kube-api-burst", 200, "Requests the manager may send at once above --kube-api-qps.")
	flag.BoolVar(&apiCompression, "kube-api-compression", false, "Ask the API server for gzip-compressed answers and watch streams. Off by default: the API server compresses each watcher's stream on its own, which costs it and the manager CPU for every event, to save bandwidth that the cluster network does not lack.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "Address of the Go profiler's /debug/pprof endpoints (e.g. 127.0.0.1:8082); empty or 0 disables them.")
	flag.StringVar(&operatorNamespace, "operator-namespace", os.Getenv("POD_NAMESPACE"), "Namespace of the operator's pods, which the topologies' NetworkPolicies let reach every pod's sidecar port (status polling); defaults to $POD_NAMESPACE. Empty: no such peer.")
	flag.StringVar(&operatorPodSelector, "operator-pod-selector", defaultOperatorPodSelector, "Labels (k=v,...) of the operator's pods in --operator-namespace, for the topologies' NetworkPolicies.")
	flag.StringVar(&metricsNamespaces, "metrics-namespace-selector", "", "Label selector of the namespaces whose pods (Prometheus) the topologies' NetworkPolicies let scrape the sidecar and device metrics ports, such as 'kubernetes.io/metadata.name=monitoring'. Empty: none.")
	flag.DurationVar(&autoscalePeriod, "autoscale-period", linkpoll.DefaultPeriod, "How often the backlog autoscaler decides the replicas of components with autoscaling.mode Backlog (their rate limits are per period); at least --link-poll-period, which it needs (0 disables it).")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	if exit, err := parseCommandLine(flag.CommandLine, os.Args[1:], os.Stdout); exit || err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	ctx := ctrl.SetupSignalHandler()
	// A soft memory limit below the container's, so that the garbage
	// collector works harder as the caches grow instead of the kernel
	// killing the manager (the chart's limit is 256Mi).
	_, _ = gomemlimit.Set(ctx, slog.New(logr.ToSlogHandler(log)), gomemlimit.RefreshInterval) // it logs a failure
	// The manager's heap is mostly its caches, which live as long as it
	// does; what the collector frees is transient (decoded watch events,
	// API answers). Go's default (GOGC=100) lets the heap grow to twice
	// the live data between collections; GOGC=50 keeps it to 1.5 times,
	// for little CPU: the collector's share of the manager's CPU was 1.4%
	// at GOGC=100 while creating 1,000 topologies (hack/bench/scale). An
	// explicit GOGC wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}

	if maxConcurrent < 1 {
		return fmt.Errorf("--max-concurrent-reconciles: %d is not a positive count", maxConcurrent)
	}
	if childEventBatch < 0 {
		return fmt.Errorf("--child-event-batch: %s is negative (0 reconciles at each change)", childEventBatch)
	}
	if apiQPS <= 0 {
		return fmt.Errorf("--kube-api-qps: %g is not a positive rate", apiQPS)
	}
	if apiBurst < 1 {
		return fmt.Errorf("--kube-api-burst: %d is not a positive count", apiBurst)
	}

	switch p := corev1.PullPolicy(pullPolicy); p {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		renderOpts.ImagePullPolicy = p
	default:
		return fmt.Errorf("--sidecar-image-pull-policy: unknown pull policy %q", pullPolicy)
	}

	switch {
	case linkPoll.Period < 0:
		return fmt.Errorf("--link-poll-period: %s is negative (0 disables polling)", linkPoll.Period)
	case linkPoll.Workers < 1:
		return fmt.Errorf("--link-poll-workers: %d, want at least 1", linkPoll.Workers)
	}
	npOpts, err := networkPolicyOptions(operatorNamespace, operatorPodSelector, metricsNamespaces)
	if err != nil {
		return err
	}
	renderOpts.NetworkPolicy = npOpts

	for _, n := range strings.Split(pullSecrets, ",") {
		if n = strings.TrimSpace(n); n != "" {
			renderOpts.DefaultImagePullSecrets = append(renderOpts.DefaultImagePullSecrets, n)
		}
	}

	// Without HTTP/2 a client cannot open streams faster than the server
	// cancels them (CVE-2023-44487, CVE-2023-39325).
	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: metricsSecure, TLSOpts: tlsOpts}
	if metricsSecure {
		// Every scrape is authenticated with a TokenReview and authorized
		// with a SubjectAccessReview for GET on /metrics.
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	mode, err := certs.ParseMode(webhookCertMode)
	if err != nil {
		return fmt.Errorf("--webhook-cert-mode: %w", err)
	}
	webhookCerts.Mode = mode
	certProvisioner, err := certs.New(webhookCerts)
	if err != nil {
		return err
	}

	namespaces := controllers.WatchNamespaces(watchNamespaces, os.Getenv("WATCH_NAMESPACE"))
	for _, ns := range namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("--watch-namespaces: %q: %s", ns, strings.Join(errs, "; "))
		}
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(zmqv1.AddToScheme(scheme))

	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = float32(apiQPS), apiBurst
	// How long requests wait for --kube-api-qps: the one client-side
	// number that says whether the limit, not the API server, is slowing
	// the manager down. A histogram by verb and host (a few series).
	metrics.RegisterRESTClientMetrics(metrics.MetricRateLimiterLatency)
	restConfig.DisableCompression = !apiCompression

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "zmq-operator.zmq.topology.dev",
		LeaderElectionNamespace: leaderElectionNamespace,
		// Stepping down on SIGTERM lets a new leader start at once.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         certProvisioner.CacheOptions(controllers.CacheOptions(namespaces...)),
		WebhookServer:                 certProvisioner.Server(webhook.Options{Port: webhookPort, TLSOpts: tlsOpts}),
		Controller:                    config.Controller{MaxConcurrentReconciles: maxConcurrent},
		PprofBindAddress:              pprofAddr,
		Client: client.Options{Cache: &client.CacheOptions{
			// Reads after our own writes wait for the cache to catch up, so a
			// reconcile never re-applies a child because it read a stale copy.
			EnableReadYourWritesConsistency: ptr.To(true),
		}},
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	var poller *linkpoll.Poller
	if linkPoll.Period > 0 {
		linkPoll.Registerer = metrics.Registry
		pods, err := linkpoll.CachedPods(context.Background(), mgr.GetCache())
		if err != nil {
			return err
		}
		if poller, err = linkpoll.New(pods, linkPoll); err != nil {
			return err
		}
		if err := mgr.Add(poller); err != nil {
			return fmt.Errorf("adding the link poller: %w", err)
		}
	}
	if poller != nil && autoscalePeriod > 0 {
		if err := mgr.Add(&controllers.BacklogAutoscaler{
			Client:     mgr.GetClient(),
			Queues:     poller,
			Recorder:   mgr.GetEventRecorder("zmq-operator-autoscaler"),
			Period:     max(autoscalePeriod, linkPoll.Period),
			Registerer: metrics.Registry,
		}); err != nil {
			return fmt.Errorf("adding the backlog autoscaler: %w", err)
		}
	}
	unlabelled, err := controllers.NewUnlabelledCache(mgr, namespaces...)
	if err != nil {
		return err
	}
	if err := (&controllers.ZMQTopologyReconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Unlabelled: unlabelled,
		Recorder:   mgr.GetEventRecorder("zmq-operator"),
		Render:     renderOpts,
		Links:      poller,

		ChildEventBatch: childEventBatch,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up controller: %w", err)
	}
	if certProvisioner.Enabled() {
		if err := certProvisioner.AddToManager(mgr); err != nil {
			return fmt.Errorf("setting up webhook certificates: %w", err)
		}
		if err := webhookv1alpha1.SetupZMQTopologyWebhookWithManager(mgr); err != nil {
			return fmt.Errorf("setting up webhook: %w", err)
		}
		// A replica is Ready only once it serves the webhook, so a rollout
		// waits for it and the Service never sends an admission review to
		// a replica without its certificate.
		if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return err
		}
	}
	if err := metrics.Registry.Register(controllers.NewTopologyCollector(mgr.GetCache())); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("cache-synced", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("informer caches not synced yet")
		}
		return nil
	}); err != nil {
		return err
	}

	log.Info("starting manager", "version", version, "sidecarImage", renderOpts.SidecarImage, "operatorNamespace", npOpts.OperatorNamespace, "watchNamespaces", namespaces, "webhookCertMode", mode)
	return mgr.Start(ctx)
}

// envOr returns the environment variable key, or def when it is unset or
// empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
