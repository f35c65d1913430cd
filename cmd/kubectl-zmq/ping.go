package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// sidecarBinary is the zmq-sidecar executable in the sidecar image (the
// image's entrypoint; see the Dockerfile and test/e2e/cmd/images).
const sidecarBinary = "/zmq-sidecar"

// pingOptions are the flags of `kubectl zmq ping`, passed on to
// `zmq-sidecar ping`.
type pingOptions struct {
	mode    string
	timeout time.Duration
}

// newPingCommand builds `kubectl zmq ping POD [SOCKET]`.
func newPingCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	opts := pingOptions{}
	cmd := &cobra.Command{
		Use:   "ping POD [SOCKET]",
		Short: "Probe a pod's ZeroMQ peers with the sidecar's ZMTP ping, from inside the pod",
		Long: `Run "zmq-sidecar ping" in the zmq-sidecar container of POD (like
kubectl exec), once per endpoint: for a connecting socket every endpoint it
connects to, for a bound socket the pod's own port (tcp://127.0.0.1:PORT).
Without SOCKET every socket of the pod's component is probed. The endpoints
come from the component's ConfigMap (the pod's zmq-topology volume).

Each probe prints the peer's ZMTP version, mechanism, Socket-Type and
latency. The default mode (ready) reads the peer's READY without sending
ours, so no message is ever routed to the probe. Exits 1 when any probe
fails.

Needs get on pods and configmaps and create on pods/exec in the namespace.`,
		Example: `  kubectl zmq ping pubsub-dashboard-6d5c7b9f4-x2kqj
  kubectl zmq ping pubsub-events-0 backend -n prod
  kubectl zmq ping pipeline-worker-7c9f-abcde tasks --mode ping --timeout 5s`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			socket := ""
			if len(args) == 2 {
				socket = args[1]
			}
			return runPing(cmd.Context(), flags, streams, args[0], socket, opts)
		},
	}
	cmd.Flags().StringVar(&opts.mode, "mode", "ready", "ready (greeting + the peer's READY), greeting, or ping (adds a PING/PONG with ZMTP 3.1 peers; completes the handshake)")
	cmd.Flags().DurationVar(&opts.timeout, "timeout", 2*time.Second, "deadline of each probe: connect, greeting and READY (and PING)")
	return cmd
}

// pingTarget is one endpoint to probe from inside the pod.
type pingTarget struct {
	Socket, Type, Endpoint string
	Bound                  bool
}

// pingTargets lists what to probe for socket (every socket when empty) of
// a component's configuration: a bound socket's own port on the pod's
// loopback, each endpoint of a connecting socket.
func pingTargets(cfg *zmqconfig.Config, socket string) ([]pingTarget, error) {
	var names []string
	var out []pingTarget
	for _, s := range cfg.Sockets {
		names = append(names, s.Name)
		if socket != "" && s.Name != socket {
			continue
		}
		if s.Bind {
			out = append(out, pingTarget{Socket: s.Name, Type: s.Type, Bound: true,
				Endpoint: "tcp://127.0.0.1:" + strconv.Itoa(int(s.Port))})
			continue
		}
		for _, ep := range s.Endpoints {
			out = append(out, pingTarget{Socket: s.Name, Type: s.Type, Endpoint: ep})
		}
	}
	if socket != "" && !slices.Contains(names, socket) {
		return nil, fmt.Errorf("component %s has no socket %q (its sockets: %s)", cfg.Component, socket, strings.Join(names, ", "))
	}
	return out, nil
}

// pingCommand is the command line run in the sidecar container. It probes
// as the target's socket (--socket), so that against a CURVE peer the
// probe authenticates with the component's keys from the mounted
// configuration (and checks the server's key) instead of stopping at the
// greeting, and the peer's Socket-Type is checked against the one the
// socket expects.
func pingCommand(t pingTarget, o pingOptions) []string {
	return []string{sidecarBinary, "ping", "--timeout", o.timeout.String(), "--mode", o.mode, "--socket", t.Socket, t.Endpoint}
}

func runPing(ctx context.Context, flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, podName, socket string, o pingOptions) error {
	switch o.mode {
	case "ready", "greeting", "ping":
	default:
		return fmt.Errorf("--mode %q: want ready, greeting or ping", o.mode)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout %s: must be positive", o.timeout)
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	pod, zc, err := podConfig(ctx, cs, ns, podName)
	if err != nil {
		return err
	}
	targets, err := pingTargets(zc, socket)
	if err != nil {
		return fmt.Errorf("pod %s: %w", podName, err)
	}
	if len(targets) == 0 {
		return fmt.Errorf("pod %s: no endpoint to probe", podName)
	}
	failed := 0
	for _, t := range targets {
		role := "connects to"
		if t.Bound {
			role = "binds, probed at"
		}
		fmt.Fprintf(streams.Out, "==> %s (%s) %s %s\n", t.Socket, t.Type, role, t.Endpoint)
		if err := execInSidecar(ctx, cfg, cs, pod, pingCommand(t, o), streams.Out, streams.ErrOut); err != nil {
			failed++
			var code utilexec.ExitError
			if !errors.As(err, &code) {
				fmt.Fprintf(streams.ErrOut, "exec in %s/%s: %v\n", pod.Name, zmqv1.SidecarContainerName, err)
			}
		}
	}
	fmt.Fprintf(streams.Out, "\n%d/%d endpoints answered\n", len(targets)-failed, len(targets))
	if failed > 0 {
		return exitError{code: 1}
	}
	return nil
}

// podConfig gets the pod, checks that it belongs to a topology and runs
// the sidecar, and reads its component's configuration from the ConfigMap
// behind its zmq-topology volume.
func podConfig(ctx context.Context, cs kubernetes.Interface, ns, name string) (*corev1.Pod, *zmqconfig.Config, error) {
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, fmt.Errorf("pod %q not found in namespace %q", name, ns)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("getting pod %s/%s: %w", ns, name, err)
	}
	if pod.Labels[render.LabelTopology] == "" {
		return nil, nil, fmt.Errorf("pod %s is not part of a ZMQTopology (no %s label)", name, render.LabelTopology)
	}
	if !hasContainer(pod, zmqv1.SidecarContainerName) {
		return nil, nil, fmt.Errorf("pod %s has no %s container (was the operator run without --sidecar-image?)", name, zmqv1.SidecarContainerName)
	}
	cmName := ""
	for _, v := range pod.Spec.Volumes {
		if v.Name == zmqv1.ConfigVolumeName && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	if cmName == "" {
		return nil, nil, fmt.Errorf("pod %s has no %s ConfigMap volume", name, zmqv1.ConfigVolumeName)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, cmName, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("getting the sockets of pod %s (configmap %s): %w", name, cmName, err)
	}
	zc, err := zmqconfig.Parse([]byte(cm.Data[zmqconfig.FileName]))
	if err != nil {
		return nil, nil, fmt.Errorf("configmap %s, key %s: %w", cmName, zmqconfig.FileName, err)
	}
	return pod, zc, nil
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if c.Name == name {
				return true
			}
		}
	}
	return false
}

// execInSidecar runs command in the pod's zmq-sidecar container the way
// kubectl exec does: WebSocket streaming, falling back to SPDY for API
// servers or proxies that cannot upgrade to it.
func execInSidecar(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, pod *corev1.Pod, command []string, stdout, stderr io.Writer) error {
	req := cs.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: zmqv1.SidecarContainerName,
			Command:   command,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return err
	}
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		return err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: stdout, Stderr: stderr})
	return err
}
