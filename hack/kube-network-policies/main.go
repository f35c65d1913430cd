// Command kube-network-policies runs SIG Network's NetworkPolicy enforcer
// (sigs.k8s.io/kube-network-policies, the controller of its
// pkg/networkpolicy) as a process on the e2e cluster's node. Upstream's own
// command reads the in-cluster service-account token and so only runs in a
// pod; this one takes a --kubeconfig instead, like the node's kube-proxy.
// Pod IPs come from the API server (the node's containerd 1.6 has no NRI).
//
// The enforcer queues the first packet of every new connection to a pod
// (nfqueue) and lets through only what the NetworkPolicies allow. It is
// built with the overlay in nftcompat/ (see hack/build-k8s.sh), which sends
// that packet to the queue through the xtables NFQUEUE target instead of the
// nftables queue expression, so it also runs on kernels built without
// CONFIG_NFT_QUEUE.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

// version is the pinned kube-network-policies release (go.mod), reported
// by --version.
const version = "v0.8.0"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kube-network-policies:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		kubeconfig  = flag.String("kubeconfig", "", "Kubeconfig of the enforcer's identity (needs list/watch on pods, namespaces and networkpolicies).")
		nodeName    = flag.String("hostname-override", "", "Name of the Node whose pods the enforcer guards (required).")
		queueID     = flag.Int("nfqueue-id", 100, "Number of the nfqueue the first packet of each new connection is sent to.")
		failOpen    = flag.Bool("fail-open", false, "Let packets through while the enforcer is not running (queue bypass).")
		metricsAddr = flag.String("metrics-bind-address", "127.0.0.1:9080", "Address of the enforcer's /metrics.")
		showVersion = flag.Bool("version", false, "Print the version and exit.")
	)
	klog.InitFlags(nil)
	flag.Parse()
	if *showVersion {
		fmt.Println("kube-network-policies", version)
		return nil
	}
	if *nodeName == "" {
		return fmt.Errorf("--hostname-override is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	srv := &http.Server{Addr: *metricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			klog.ErrorS(err, "metrics server")
		}
	}()
	defer srv.Close()

	factory := informers.NewSharedInformerFactory(clientset, 0)
	ctrl, err := networkpolicy.NewController(clientset,
		factory.Networking().V1().NetworkPolicies(),
		factory.Core().V1().Namespaces(),
		factory.Core().V1().Pods(),
		nil, nil, nil, nil,
		networkpolicy.Config{
			FailOpen:            *failOpen,
			QueueID:             *queueID,
			NodeName:            *nodeName,
			NetfilterBug1766Fix: true,
			// NRI stays "enabled": v0.8.0 dereferences the NRI plugin for
			// every packet whose address is no pod's (a node or Service
			// address), so with NRI disabled it panics. Without an NRI
			// socket (containerd 1.6 has none) the plugin only fails to
			// connect, logs it, and the API server's pod IPs are used.
			NRIdisabled: false,
		})
	if err != nil {
		return fmt.Errorf("starting the network policy controller: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- ctrl.Run(ctx) }()
	factory.Start(ctx.Done())
	select {
	case <-ctx.Done():
		// The controller removes its nftables table when its context ends;
		// give it a moment, as upstream's command does.
		select {
		case <-errc:
		case <-time.After(5 * time.Second):
		}
		return nil
	case err := <-errc:
		return err
	}
}
