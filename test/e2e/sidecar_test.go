//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/deploy"
)

// lateTopology has a sink that binds only 10 s after it starts, fed by a
// producer that connects to it.
const lateTopology = `
apiVersion: zmq.topology.dev/v1alpha1
kind: ZMQTopology
metadata: {name: late}
spec:
  sidecar: {probeIntervalSeconds: 1}
  components:
  - name: sink
    template: {spec: {containers: [{name: app, image: zmq-operator-examples:dev, args: [sink, --delay=10s]}]}}
    sockets:
    - {name: results, type: PULL, bind: {port: 6000}}
  - name: producer
    template: {spec: {containers: [{name: app, image: zmq-operator-examples:dev, args: [ventilator, --rate=200]}]}}
    sockets:
    - {name: tasks, type: PUSH, connect: {component: sink, socket: results}}
`

// TestSidecarReadinessAndMetrics: a component whose application binds 10 s
// after it starts stays NotReady, and out of its Service's endpoints, until
// it binds; the agents' metrics, scraped through the pod IPs, show the peer
// up and byte counters rising with the traffic.
func TestSidecarReadinessAndMetrics(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-sidecar")
	applyManifest(ctx, t, ns, lateTopology)

	var sink pod
	eventually(t, 2*time.Minute, "the sink pod runs", func() error {
		ps := pods(ctx, t, ns, "late", "sink")
		if len(ps) != 1 || ps[0].IP == "" {
			return fmt.Errorf("sink pods: %+v", ps)
		}
		sink = ps[0]
		return nil
	})
	started := time.Now()
	// While the application has not bound, the pod is not ready and the
	// Service publishes no ready endpoint.
	notReadySeen := 0
	for time.Since(started) < 6*time.Second {
		ps := pods(ctx, t, ns, "late", "sink")
		if len(ps) == 1 && ps[0].Ready {
			t.Fatalf("the sink pod became Ready %s after it started, before its application bound", time.Since(started))
		}
		if eps := readyEndpoints(ctx, t, ns, "late-sink"); eps != 0 {
			t.Fatalf("the Service has %d ready endpoints before the bind", eps)
		}
		notReadySeen++
		time.Sleep(500 * time.Millisecond)
	}
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "pod/"+sink.Name, "--timeout=60s")
	t.Logf("sink Ready %s after its pod ran (application binds after 10 s)", time.Since(started).Round(time.Second))
	eventually(t, time.Minute, "the Service's endpoint is ready", func() error {
		if n := readyEndpoints(ctx, t, ns, "late-sink"); n != 1 {
			return fmt.Errorf("%d ready endpoints", n)
		}
		return nil
	})
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/late", "--timeout=120s")

	// The producer's agent reports its peer up and the bytes it sends.
	producer := pods(ctx, t, ns, "late", "producer")[0]
	peer := fmt.Sprintf(`zmq_sidecar_peer_up{endpoint="tcp://late-sink.%s.svc.cluster.local:6000",socket="tasks"}`, ns)
	var sent0, recv0 float64
	eventually(t, time.Minute, "peer up in the producer's agent", func() error {
		m, err := agentMetrics(ctx, producer)
		if err != nil {
			return err
		}
		if m[peer] != 1 {
			return fmt.Errorf("%s = %v", peer, m[peer])
		}
		sent0 = m[`zmq_sidecar_socket_sent_bytes_total{socket="tasks"}`]
		return nil
	})
	m, err := agentMetrics(ctx, sink)
	if err != nil {
		t.Fatal(err)
	}
	recv0 = m[`zmq_sidecar_socket_received_bytes_total{socket="results"}`]
	if m[`zmq_sidecar_bound_socket_up{socket="results",type="PULL"}`] != 1 {
		t.Errorf("the sink's agent does not see its bound socket up")
	}
	eventually(t, time.Minute, "byte counters rise with the traffic", func() error {
		mp, err := agentMetrics(ctx, producer)
		if err != nil {
			return err
		}
		ms, err := agentMetrics(ctx, sink)
		if err != nil {
			return err
		}
		sent, recv := mp[`zmq_sidecar_socket_sent_bytes_total{socket="tasks"}`], ms[`zmq_sidecar_socket_received_bytes_total{socket="results"}`]
		if sent <= sent0 || recv <= recv0 {
			return fmt.Errorf("sent %.0f -> %.0f, received %.0f -> %.0f", sent0, sent, recv0, recv)
		}
		t.Logf("producer sent %.0f bytes, sink received %.0f bytes since the first scrape", sent-sent0, recv-recv0)
		return nil
	})
}

// TestEverySamplePodRunsTheAgent checks that every pod of every sample has a
// ready zmq-sidecar and that the Forwarder's devices run `zmq-sidecar
// device` and count the messages they forward.
func TestEverySamplePodRunsTheAgent(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-agents")
	applySample(ctx, t, ns, "zmq_v1alpha1_pipeline.yaml", "pipeline")
	applySample(ctx, t, ns, "zmq_v1alpha1_pubsub.yaml", "pubsub")
	applySample(ctx, t, ns, "zmq_v1alpha1_reqrep.yaml", "reqrep")
	out := mustKubectl(ctx, t, "-n", ns, "get", "pods", "-o",
		`jsonpath={range .items[*]}{.metadata.name}{" "}{.spec.initContainers[0].name}{" "}{.status.initContainerStatuses[0].ready}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "zmq-sidecar" || f[2] != "true" {
			t.Errorf("pod without a ready agent: %q", line)
		}
	}
	// Publishers reach one Forwarder replica each through the ClusterIP
	// (possibly the same one), subscribers connect to every replica: each
	// device has every subscriber, and together they forward what the
	// publishers send.
	devices := pods(ctx, t, ns, "pubsub", "events")
	var first float64
	eventually(t, 2*time.Minute, "the Forwarder devices forward messages", func() error {
		total := 0.0
		for _, dev := range devices {
			args := mustKubectl(ctx, t, "-n", ns, "get", "pod", dev.Name, "-o", `jsonpath={.spec.containers[0].args}`)
			if !strings.Contains(args, `"device","forwarder"`) {
				return fmt.Errorf("%s runs %s", dev.Name, args)
			}
			body, err := deploy.Get(ctx, "http://"+dev.IP+":9918/metrics")
			if err != nil {
				return err
			}
			m := metricsText(body)
			if subs := m[`zmq_device_peers{side="backend"}`]; subs < 3 { // the agents' probes may add a short-lived one
				return fmt.Errorf("%s has %.0f subscribers, want at least 3", dev.Name, subs)
			}
			total += m[`zmq_device_sent_messages_total{side="backend"}`]
		}
		if first == 0 {
			first = total
		}
		if total <= first {
			return fmt.Errorf("the devices sent %.0f messages to subscribers, not rising", total)
		}
		t.Logf("the devices forwarded %.0f messages to subscribers, rising", total)
		return nil
	})
}

// streamTopology runs a Streamer device between a producer and two
// consumers.
const streamTopology = `
apiVersion: zmq.topology.dev/v1alpha1
kind: ZMQTopology
metadata: {name: stream}
spec:
  components:
  - name: producer
    template: {spec: {containers: [{name: app, image: zmq-operator-examples:dev, args: [ventilator, --rate=200]}]}}
    sockets:
    - {name: tasks, type: PUSH, connect: {component: streamer, socket: frontend}}
  - name: streamer
    device: {type: Streamer}
    sockets:
    - {name: frontend, type: PULL, bind: {port: 7000}}
    - {name: backend, type: PUSH, bind: {port: 7001}}
  - name: consumer
    replicas: 2
    template: {spec: {containers: [{name: app, image: zmq-operator-examples:dev, args: [sink]}]}}
    sockets:
    - {name: results, type: PULL, connect: {component: streamer, socket: backend}}
`

// TestStreamerDeviceCountsMessages: the Streamer device is `zmq-sidecar
// device streamer`, and its metrics count exactly the messages the producer
// sent, which the consumers receive.
func TestStreamerDeviceCountsMessages(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-streamer")
	applyManifest(ctx, t, ns, streamTopology)
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/stream", "--timeout=240s")
	dev := pods(ctx, t, ns, "stream", "streamer")[0]
	if args := mustKubectl(ctx, t, "-n", ns, "get", "pod", dev.Name, "-o", `jsonpath={.spec.containers[0].args}`); !strings.Contains(args, `"device","streamer"`) {
		t.Fatalf("the streamer runs %s", args)
	}
	producer := pods(ctx, t, ns, "stream", "producer")[0]
	eventually(t, time.Minute, "traffic through the streamer", func() error {
		var s struct{ Sent int }
		if err := stats(ctx, producer, &s); err != nil {
			return err
		}
		if s.Sent < 200 {
			return fmt.Errorf("producer sent %d", s.Sent)
		}
		return nil
	})
	if err := setPaused(ctx, producer, true); err != nil {
		t.Fatal(err)
	}
	var sent struct{ Sent int }
	eventually(t, time.Minute, "the device counted every message the producer sent", func() error {
		if err := stats(ctx, producer, &sent); err != nil {
			return err
		}
		body, err := deploy.Get(ctx, "http://"+dev.IP+":9918/metrics")
		if err != nil {
			return err
		}
		m := metricsText(body)
		in, out := m[`zmq_device_received_messages_total{side="frontend"}`], m[`zmq_device_sent_messages_total{side="backend"}`]
		if int(in) != sent.Sent || int(out) != sent.Sent {
			return fmt.Errorf("producer sent %d; device received %.0f and forwarded %.0f", sent.Sent, in, out)
		}
		return nil
	})
	got := 0
	for _, c := range pods(ctx, t, ns, "stream", "consumer") {
		var s struct{ Received int }
		if err := stats(ctx, c, &s); err != nil {
			t.Fatal(err)
		}
		got += s.Received
	}
	if got != sent.Sent {
		t.Errorf("consumers received %d of the %d messages sent", got, sent.Sent)
	}
	t.Logf("producer sent %d messages; the device counted them all; consumers received %d", sent.Sent, got)
}

// applyManifest applies YAML given inline.
func applyManifest(ctx context.Context, t *testing.T, ns, manifest string) {
	t.Helper()
	if _, err := k.RunStdin(ctx, withImages(manifest), "-n", ns, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// readyEndpoints counts the ready endpoints of a Service's EndpointSlices.
func readyEndpoints(ctx context.Context, t *testing.T, ns, service string) int {
	out := mustKubectl(ctx, t, "-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name="+service, "-o",
		`jsonpath={range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}`)
	return strings.Count(out, "true")
}

// agentMetrics scrapes a pod's zmq-sidecar agent through the pod IP.
func agentMetrics(ctx context.Context, p pod) (map[string]float64, error) {
	body, err := deploy.Get(ctx, "http://"+p.IP+":9917/metrics")
	if err != nil {
		return nil, err
	}
	return metricsText(body), nil
}

// metricsText parses Prometheus text into "name{labels}" -> value.
func metricsText(body string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
