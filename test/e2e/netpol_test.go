//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/deploy"
)

// The NetworkPolicy tests run against the node's real enforcer
// (kube-network-policies, started by package cluster): each probe is the
// sidecar's `zmq-sidecar ping --mode=greeting`, run from a pod, so the
// connection is a pod's and the enforcer judges it. (The test process
// itself runs as root on the node, whose traffic the enforcer lets through,
// as it does kubelet's probes.) A blocked connection fails "at connect"
// (its SYN is dropped: a timeout); an admitted one completes the ZMTP
// greeting, or, against the sidecar's HTTP port, gets as far as the
// greeting stage.

// probeTimeout bounds one ping; a dropped SYN shows as a connect timeout.
const probeTimeout = "4s"

// probeResult is what one ping said.
type probeResult struct {
	ok  bool
	out string
}

// connected reports whether the TCP connection was established: the probe
// passed, or failed only after the connect stage.
func (r probeResult) connected() bool {
	return r.ok || (strings.Contains(r.out, "failed at ") && !strings.Contains(r.out, "failed at connect"))
}

// blocked reports whether the probe could not even connect, for lack of an
// answer (a dropped packet), not because the port was closed.
func (r probeResult) blocked() bool {
	return !r.ok && strings.Contains(r.out, "failed at connect") && !strings.Contains(r.out, "refused")
}

// pingFromNewPod runs one ping from a fresh pod in ns with the given
// labels and returns its verdict. The pod never becomes Ready (its
// readiness probe targets a closed port), so that it never joins a Service
// that selects the same labels, and it passes the restricted Pod Security
// level (the operator's namespace enforces it with install.yaml).
func pingFromNewPod(ctx context.Context, t *testing.T, ns, name string, labels map[string]string, endpoint string) probeResult {
	t.Helper()
	var lbl []string
	for k, v := range labels {
		lbl = append(lbl, fmt.Sprintf("%q: %q", k, v))
	}
	applyManifest(ctx, t, ns, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {%s}
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: ping
    image: %s
    args: [ping, --mode=greeting, --timeout=%s, %q]
    readinessProbe: {tcpSocket: {port: 1}, periodSeconds: 60}
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
`, name, strings.Join(lbl, ", "), sidecarImage, probeTimeout, endpoint))
	defer func() { _, _ = kubectl(context.Background(), "-n", ns, "delete", "pod", name, "--wait=false") }()
	var phase string
	eventually(t, 2*time.Minute, "pod "+ns+"/"+name+" finishes", func() error {
		phase = mustKubectl(ctx, t, "-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase}")
		if phase != "Succeeded" && phase != "Failed" {
			return fmt.Errorf("phase %q", phase)
		}
		return nil
	})
	out, _ := kubectl(ctx, "-n", ns, "logs", name)
	r := probeResult{ok: phase == "Succeeded", out: strings.TrimSpace(out)}
	t.Logf("%s/%s (%v) -> %s: %s", ns, name, labels, endpoint, r.out)
	return r
}

// pingFromSidecar runs one ping in the zmq-sidecar container of a
// topology's pod: a connection from that component.
func pingFromSidecar(ctx context.Context, t *testing.T, ns string, p pod, endpoint string) probeResult {
	t.Helper()
	out, err := kubectl(ctx, "-n", ns, "exec", p.Name, "-c", "zmq-sidecar", "--",
		"/zmq-sidecar", "ping", "--mode=greeting", "--timeout="+probeTimeout, endpoint)
	r := probeResult{ok: err == nil, out: strings.TrimSpace(out)}
	if err != nil {
		r.out = strings.TrimSpace(out + " " + err.Error())
	}
	t.Logf("%s/%s -> %s: %s", ns, p.Name, endpoint, r.out)
	return r
}

// runningPipelineWithPolicies applies the pipeline sample into ns, waits
// for Ready and for its three NetworkPolicies.
func runningPipelineWithPolicies(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	applySample(ctx, t, ns, "zmq_v1alpha1_pipeline.yaml", "pipeline")
	out := mustKubectl(ctx, t, "-n", ns, "get", "networkpolicies", "-o", "jsonpath={.items[*].metadata.name}")
	for _, want := range []string{"pipeline-ventilator", "pipeline-worker", "pipeline-sink"} {
		if !contains(strings.Fields(out), want) {
			t.Fatalf("NetworkPolicies %q: %s is missing", out, want)
		}
	}
}

func onePod(ctx context.Context, t *testing.T, ns, topology, component string) pod {
	t.Helper()
	var p pod
	eventually(t, 2*time.Minute, topology+"/"+component+" has a running pod", func() error {
		ps := pods(ctx, t, ns, topology, component)
		if len(ps) == 0 || ps[0].IP == "" {
			return fmt.Errorf("pods %+v", ps)
		}
		p = ps[0]
		return nil
	})
	return p
}

// TestNetworkPolicyBlocksOutsider: a pod outside the topology can complete
// a ZMTP greeting with no bound socket of the pipeline, by pod IP or
// through the Service, nor reach a sidecar's port; once the topology opts
// out of NetworkPolicies, the same probe gets through (so it was the policy
// that held).
func TestNetworkPolicyBlocksOutsider(t *testing.T) {
	ctx := featureOnly(t)
	ns := newNamespace(ctx, t, "e2e-np-outsider")
	outsiders := newNamespace(ctx, t, "e2e-np-outsiders")
	runningPipelineWithPolicies(ctx, t, ns)
	vent := onePod(ctx, t, ns, "pipeline", "ventilator")
	sink := onePod(ctx, t, ns, "pipeline", "sink")

	for i, ep := range []string{
		fmt.Sprintf("tcp://%s:5557", vent.IP),
		fmt.Sprintf("tcp://pipeline-ventilator.%s.svc.cluster.local:5557", ns),
		fmt.Sprintf("tcp://%s:5558", sink.IP),
		fmt.Sprintf("tcp://%s:9917", sink.IP),
	} {
		if r := pingFromNewPod(ctx, t, outsiders, fmt.Sprintf("outsider-%d", i), map[string]string{"app": "outsider"}, ep); !r.blocked() {
			t.Errorf("an outsider reached %s: %s", ep, r.out)
		}
	}
	// Pods of the same namespace are outsiders too, unless they are the
	// topology's.
	if r := pingFromNewPod(ctx, t, ns, "neighbour", map[string]string{"app": "neighbour"}, fmt.Sprintf("tcp://%s:5557", vent.IP)); !r.blocked() {
		t.Errorf("a pod of the topology's namespace outside the topology reached the ventilator: %s", r.out)
	}

	// Opting out removes the policies, and the outsider gets through.
	mustKubectl(ctx, t, "-n", ns, "patch", "zt", "pipeline", "--type=merge", "-p", `{"spec":{"networkPolicy":{"enabled":false}}}`)
	eventually(t, time.Minute, "the pipeline's NetworkPolicies are deleted", func() error {
		if out := mustKubectl(ctx, t, "-n", ns, "get", "networkpolicies", "-o", "name"); out != "" {
			return fmt.Errorf("still there: %s", out)
		}
		return nil
	})
	if r := pingFromNewPod(ctx, t, outsiders, "outsider-optout", map[string]string{"app": "outsider"}, fmt.Sprintf("tcp://%s:5557", vent.IP)); !r.ok {
		t.Errorf("with the NetworkPolicies opted out the outsider still cannot greet the ventilator: %s", r.out)
	}
}

// TestNetworkPolicyAdmitsMembers: the declared connectors complete the
// greeting with the sockets they connect to, the topology is Ready (kubelet
// readiness probes pass), the operator's pods reach every sidecar's port,
// and a member still cannot reach a port it does not connect to (the
// sidecar's, or a bound socket it has no link to).
func TestNetworkPolicyAdmitsMembers(t *testing.T) {
	ctx := featureOnly(t)
	ns := newNamespace(ctx, t, "e2e-np-members")
	runningPipelineWithPolicies(ctx, t, ns)
	vent := onePod(ctx, t, ns, "pipeline", "ventilator")
	worker := onePod(ctx, t, ns, "pipeline", "worker")
	sink := onePod(ctx, t, ns, "pipeline", "sink")

	for _, ep := range []string{
		fmt.Sprintf("tcp://%s:5557", vent.IP),
		fmt.Sprintf("tcp://pipeline-ventilator.%s.svc.cluster.local:5557", ns),
		fmt.Sprintf("tcp://%s:5558", sink.IP),
	} {
		if r := pingFromSidecar(ctx, t, ns, worker, ep); !r.ok {
			t.Errorf("the worker, a declared connector, cannot greet %s: %s", ep, r.out)
		}
	}
	for _, ep := range []string{
		fmt.Sprintf("tcp://%s:9917", sink.IP), // the sidecar's port: operator and monitoring only
		fmt.Sprintf("tcp://%s:5557", vent.IP), // the sink declares no link to the ventilator
	} {
		from := worker
		if strings.HasSuffix(ep, ":5557") {
			from = sink
		}
		if r := pingFromSidecar(ctx, t, ns, from, ep); !r.blocked() {
			t.Errorf("%s reached %s, which its component has no link to: %s", from.Name, ep, r.out)
		}
	}

	// The operator's identity (its namespace and pod labels) reaches the
	// sidecar's HTTP port (the ZMTP probe connects, then fails at the
	// greeting: it is HTTP); the same labels elsewhere do not.
	labels := operatorPodLabels(ctx, t)
	if r := pingFromNewPod(ctx, t, deploy.Namespace, "as-operator", labels, fmt.Sprintf("tcp://%s:9917", sink.IP)); !r.connected() {
		t.Errorf("a pod with the operator's labels in its namespace cannot connect to the sidecar's port: %s", r.out)
	}
	if r := pingFromNewPod(ctx, t, ns, "operator-lookalike", labels, fmt.Sprintf("tcp://%s:9917", sink.IP)); !r.blocked() {
		t.Errorf("a pod with the operator's labels outside its namespace reached the sidecar's port: %s", r.out)
	}
	status, reason, msg := readyCondition(ctx, t, ns, "pipeline")
	if status != "True" {
		t.Errorf("pipeline Ready=%s %s: %s", status, reason, msg)
	}
}

// operatorPodLabels returns the labels of the running operator pod, less
// the ReplicaSet's hash.
func operatorPodLabels(ctx context.Context, t *testing.T) map[string]string {
	t.Helper()
	out := mustKubectl(ctx, t, "-n", deploy.Namespace, "get", "pods", "-l", "app.kubernetes.io/component=manager", "-o",
		"jsonpath={.items[0].metadata.labels}")
	labels := map[string]string{}
	if err := json.Unmarshal([]byte(out), &labels); err != nil {
		t.Fatalf("operator pod labels %q: %v", out, err)
	}
	delete(labels, "pod-template-hash")
	if len(labels) == 0 {
		t.Fatalf("no operator pod labels in %q", out)
	}
	return labels
}

// TestNetworkPolicyLinkRemovalRevokes: when the worker -> sink link leaves
// the spec (the worker now sends its results to an address outside the
// topology), the sink's policy drops the worker and its probe no longer
// connects, while its link to the ventilator still works.
func TestNetworkPolicyLinkRemovalRevokes(t *testing.T) {
	ctx := featureOnly(t)
	ns := newNamespace(ctx, t, "e2e-np-revoke")
	runningPipelineWithPolicies(ctx, t, ns)
	sink := onePod(ctx, t, ns, "pipeline", "sink")
	vent := onePod(ctx, t, ns, "pipeline", "ventilator")
	sinkEP := fmt.Sprintf("tcp://%s:5558", sink.IP)
	if r := pingFromSidecar(ctx, t, ns, onePod(ctx, t, ns, "pipeline", "worker"), sinkEP); !r.ok {
		t.Fatalf("before the change the worker cannot greet the sink: %s", r.out)
	}

	mustKubectl(ctx, t, "-n", ns, "patch", "zt", "pipeline", "--type=json", "-p",
		`[{"op":"replace","path":"/spec/components/1/sockets/1/connect","value":{"address":"tcp://127.0.0.1:5558"}}]`)
	eventually(t, time.Minute, "the sink's NetworkPolicy drops the worker", func() error {
		out := mustKubectl(ctx, t, "-n", ns, "get", "networkpolicy", "pipeline-sink", "-o", "jsonpath={.spec.ingress}")
		if strings.Contains(out, "5558") {
			return fmt.Errorf("ingress still admits port 5558: %s", out)
		}
		return nil
	})
	mustKubectl(ctx, t, "-n", ns, "rollout", "status", "deployment/pipeline-worker", "--timeout=120s")
	worker := onePod(ctx, t, ns, "pipeline", "worker")
	eventually(t, 30*time.Second, "the worker's probe of the sink is blocked", func() error {
		if r := pingFromSidecar(ctx, t, ns, worker, sinkEP); !r.blocked() {
			return fmt.Errorf("the worker still reaches the sink: %s", r.out)
		}
		return nil
	})
	if r := pingFromSidecar(ctx, t, ns, worker, fmt.Sprintf("tcp://%s:5557", vent.IP)); !r.ok {
		t.Errorf("the worker's remaining link to the ventilator is blocked too: %s", r.out)
	}
}
