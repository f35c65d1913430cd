//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Issue 12, acceptance: `kubectl rollout restart` of a device while
// traffic flows loses nothing. The device Deployment surges before it
// stops (maxUnavailable 0); the old pod keeps serving for its shutdown
// delay, then drains (controllers/render/rollout.go, sidecar/device_drain.go).

// streamRollout: a ventilator sends exactly 5,000 numbered tasks through a
// Streamer to two workers and a sink.
const streamRollout = `
apiVersion: zmq.topology.dev/v1alpha1
kind: ZMQTopology
metadata: {name: lossless}
spec:
  components:
  - name: vent
    template: {spec: {containers: [{name: app, image: zmq-operator-examples:dev, args: [ventilator, --rate=50, --count=5000]}]}}
    sockets:
    - {name: tasks, type: PUSH, connect: {component: stream, socket: frontend}}
  - name: stream
    device: {type: Streamer}
    sockets:
    - {name: frontend, type: PULL, bind: {port: 7000}}
    - {name: backend, type: PUSH, bind: {port: 7001}}
  - name: worker
    replicas: 2
    template: {spec: {containers: [{name: app, image: zmq-operator-examples:dev, args: [worker]}]}}
    sockets:
    - {name: tasks, type: PULL, connect: {component: stream, socket: backend}}
    - {name: results, type: PUSH, connect: {component: sink, socket: results}}
  - name: sink
    template: {spec: {containers: [{name: app, image: zmq-operator-examples:dev, args: [sink]}]}}
    sockets:
    - {name: results, type: PULL, bind: {port: 7002}}
`

// queueRollout: two REQ clients send exactly 1,500 requests each through a
// Queue to two repliers.
const queueRollout = `
apiVersion: zmq.topology.dev/v1alpha1
kind: ZMQTopology
metadata: {name: lossless-rr}
spec:
  components:
  - name: broker
    device: {type: Queue}
    sockets:
    - {name: frontend, type: ROUTER, bind: {port: 7100}}
    - {name: backend, type: DEALER, bind: {port: 7101}}
  - name: client
    replicas: 2
    template: {spec: {containers: [{name: app, image: zmq-operator-examples:dev, args: [client, --rate=20, --count=1500]}]}}
    sockets:
    - {name: requests, type: REQ, connect: {component: broker, socket: frontend}}
  - name: replier
    replicas: 2
    template: {spec: {containers: [{name: app, image: zmq-operator-examples:dev, args: [replier]}]}}
    sockets:
    - {name: requests, type: REP, connect: {component: broker, socket: backend}}
`

// restartDevice runs `kubectl rollout restart` on a device's Deployment
// once traffic flows, waits for the rollout, and checks that a new pod
// replaced the old one and that no other pod restarted.
func restartDevice(ctx context.Context, t *testing.T, ns, topology, device string, flowing func() error) {
	t.Helper()
	eventually(t, 2*time.Minute, "traffic flowing before the rollout", flowing)
	before := pods(ctx, t, ns, topology, device)
	if len(before) != 1 {
		t.Fatalf("%d %s pods; want 1", len(before), device)
	}
	deploy := "deployment/" + topology + "-" + device
	strategy := mustKubectl(ctx, t, "-n", ns, "get", deploy, "-o", `jsonpath={.spec.strategy.rollingUpdate.maxUnavailable}/{.spec.strategy.rollingUpdate.maxSurge}`)
	if strategy != "0/1" {
		t.Fatalf("%s maxUnavailable/maxSurge = %s; want 0/1", deploy, strategy)
	}
	start := time.Now()
	mustKubectl(ctx, t, "-n", ns, "rollout", "restart", deploy)
	mustKubectl(ctx, t, "-n", ns, "rollout", "status", deploy, "--timeout=180s")
	after := pods(ctx, t, ns, topology, device)
	if len(after) != 1 || after[0].Name == before[0].Name {
		t.Fatalf("after the rollout: %v; want one new pod replacing %s", after, before[0].Name)
	}
	// The old pod drains after its shutdown delay; wait until it is gone.
	eventually(t, time.Minute, "the old device pod gone", func() error {
		out, _ := kubectl(ctx, "-n", ns, "get", "pod", before[0].Name, "--ignore-not-found", "-o", "name")
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("%s still exists", before[0].Name)
		}
		return nil
	})
	t.Logf("rollout of %s: %s replaced by %s in %s", deploy, before[0].Name, after[0].Name, time.Since(start).Round(time.Second))
}

// noRestarts fails if a container of the topology's pods restarted.
func noRestarts(ctx context.Context, t *testing.T, ns, topology string) {
	t.Helper()
	out := mustKubectl(ctx, t, "-n", ns, "get", "pods", "-l", "zmq.topology.dev/topology="+topology, "-o",
		`jsonpath={range .items[*]}{.metadata.name}={range .status.containerStatuses[*]}{.restartCount},{end}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, counts, _ := strings.Cut(line, "=")
		for _, c := range strings.Split(strings.TrimSuffix(counts, ","), ",") {
			if c != "0" && c != "" {
				t.Errorf("pod %s restarted (%s)", name, counts)
			}
		}
	}
}

func TestStreamerRolloutExactlyOnce(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-rollout-stream")
	applyManifest(ctx, t, ns, streamRollout)
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/lossless", "--timeout=240s")
	vent := pods(ctx, t, ns, "lossless", "vent")[0]
	sink := pods(ctx, t, ns, "lossless", "sink")[0]
	type ventStats struct {
		Sent int
		Done bool
	}
	restartDevice(ctx, t, ns, "lossless", "stream", func() error {
		var s ventStats
		if err := stats(ctx, vent, &s); err != nil {
			return err
		}
		if s.Sent < 500 || s.Done {
			return fmt.Errorf("ventilator sent %d (done %v): want 500 to 4999 when the rollout starts", s.Sent, s.Done)
		}
		return nil
	})
	var v ventStats
	eventually(t, 3*time.Minute, "the ventilator sent its 5,000 tasks", func() error {
		if err := stats(ctx, vent, &v); err != nil {
			return err
		}
		if !v.Done {
			return fmt.Errorf("ventilator sent %d", v.Sent)
		}
		return nil
	})
	if v.Sent != 5000 {
		t.Fatalf("the ventilator sent %d tasks; want 5000", v.Sent)
	}
	var got struct{ Received, Duplicates int }
	eventually(t, time.Minute, "the sink received 5,000 tasks", func() error {
		if err := stats(ctx, sink, &got); err != nil {
			return err
		}
		if got.Received != 5000 {
			return fmt.Errorf("sink received %d distinct tasks", got.Received)
		}
		return nil
	})
	time.Sleep(2 * time.Second) // anything late would be a duplicate
	if err := stats(ctx, sink, &got); err != nil {
		t.Fatal(err)
	}
	if got.Received != 5000 || got.Duplicates != 0 {
		t.Fatalf("sink: %d distinct tasks, %d duplicates; want exactly 5000 and 0", got.Received, got.Duplicates)
	}
	noRestarts(ctx, t, ns, "lossless")
	t.Logf("Streamer rolled out mid-stream: the sink received all %d tasks exactly once", got.Received)
}

func TestQueueRolloutNoLostReply(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-rollout-queue")
	applyManifest(ctx, t, ns, queueRollout)
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/lossless-rr", "--timeout=240s")
	clients := pods(ctx, t, ns, "lossless-rr", "client")
	type clientStats struct {
		Sent, Replies, Lost, Retries int
		Done                         bool
	}
	restartDevice(ctx, t, ns, "lossless-rr", "broker", func() error {
		for _, c := range clients {
			var s clientStats
			if err := stats(ctx, c, &s); err != nil {
				return err
			}
			if s.Replies < 200 || s.Done {
				return fmt.Errorf("client %s has %d replies (done %v): want 200 to 1499 when the rollout starts", c.Name, s.Replies, s.Done)
			}
		}
		return nil
	})
	total, retries := 0, 0
	for _, c := range clients {
		var s clientStats
		eventually(t, 3*time.Minute, "client "+c.Name+" done", func() error {
			if err := stats(ctx, c, &s); err != nil {
				return err
			}
			if !s.Done {
				return fmt.Errorf("%d of 1500 requests answered", s.Replies)
			}
			return nil
		})
		if s.Sent != 1500 || s.Replies != 1500 || s.Lost != 0 {
			t.Errorf("client %s: sent %d, replies %d, lost %d; want 1500, 1500, 0", c.Name, s.Sent, s.Replies, s.Lost)
		}
		total += s.Replies
		retries += s.Retries
	}
	noRestarts(ctx, t, ns, "lossless-rr")
	t.Logf("Queue rolled out under load: %d replies, 0 lost; %d requests re-sent after ErrPeerGone", total, retries)
}
