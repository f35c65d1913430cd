// Command manager runs the zmq-operator: the ZMQTopology controller, its
// health probes and its metrics endpoint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

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
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.BoolVar(&leaderElect, "leader-elect", true, "Elect a leader so that only one replica reconciles.")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease; required outside a cluster.")
	flag.StringVar(&renderOpts.ClusterDomain, "cluster-domain", "cluster.local", "The cluster's DNS domain, used in the endpoints given to connecting sockets.")
	flag.StringVar(&renderOpts.SidecarImage, "sidecar-image", "ghcr.io/zmq-operator/zmq-sidecar:"+version, "Image of zmq-sidecar, which runs the devices (Forwarder, Streamer, Queue).")
	flag.StringVar(&pullPolicy, "sidecar-image-pull-policy", "", "Pull policy of the sidecar image (Always, IfNotPresent, Never); empty keeps the Kubernetes default.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	switch p := corev1.PullPolicy(pullPolicy); p {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		renderOpts.ImagePullPolicy = p
	default:
		return fmt.Errorf("--sidecar-image-pull-policy: unknown pull policy %q", pullPolicy)
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(zmqv1.AddToScheme(scheme))

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "zmq-operator.zmq.topology.dev",
		LeaderElectionNamespace: leaderElectionNamespace,
		// Stepping down on SIGTERM lets a new leader start at once.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controllers.CacheOptions(),
		Client: client.Options{Cache: &client.CacheOptions{
			// Reads after our own writes wait for the cache to catch up, so a
			// reconcile never re-applies a child because it read a stale copy.
			EnableReadYourWritesConsistency: ptr.To(true),
		}},
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	if err := (&controllers.ZMQTopologyReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("zmq-operator"),
		Render:    renderOpts,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up controller: %w", err)
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

	log.Info("starting manager", "version", version, "sidecarImage", renderOpts.SidecarImage)
	return mgr.Start(ctrl.SetupSignalHandler())
}
