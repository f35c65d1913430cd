package controllers

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
)

// The roll-up tests feed canned /status documents, as the agents serve
// them, through the poller's normalization into computeStatus.

// pipelineFixture is the pipeline sample (ventilator 1, worker 3, sink 1),
// optionally with more ventilators (a StatefulSet: per-replica endpoints).
func pipelineFixture(t *testing.T, ventilators int32) *zmqv1.ZMQTopology {
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", "ns")
	z.Generation = 1
	if ventilators > 1 {
		z.Spec.Components[0].Replicas = ptr.To(ventilators)
	}
	return z
}

// rolledOutWorkloads are every component's workload, ready.
func rolledOutWorkloads(z *zmqv1.ZMQTopology) map[string]workload {
	out := map[string]workload{}
	for i := range z.Spec.Components {
		c := &z.Spec.Components[i]
		n := render.Replicas(c)
		out[c.Name] = workload{kind: render.WorkloadKind(c), generation: 1, observedGeneration: 1, replicas: n, updated: n, ready: n, available: n}
	}
	return out
}

// workerDoc is a worker's document: each endpoint of its tasks socket with
// the given RTT (µs) or, for a negative RTT, down with err; results up.
func workerDoc(z *zmqv1.ZMQTopology, pod string, rtt []int64, err string) *agentstatus.Document {
	c := z.Component("worker")
	doc := &agentstatus.Document{APIVersion: agentstatus.APIVersion, Topology: z.Name, Namespace: z.Namespace, Component: c.Name, Pod: pod}
	for i := range c.Sockets {
		s := &c.Sockets[i]
		sock := agentstatus.Socket{Name: s.Name, Type: string(s.Type)}
		for j, ep := range connectEndpoints(z, c, s, "cluster.local") {
			p := agentstatus.Peer{Endpoint: ep, Probe: agentstatus.Probe{Probed: true, Up: true, HandshakeMicros: 900, PingRTTMicros: 150, PeerSocketType: "PUSH", ZMTPVersion: "3.1"}}
			if s.Name == "tasks" {
				p.PingRTTMicros = rtt[j]
				if rtt[j] < 0 {
					p.Probe = agentstatus.Probe{Probed: true, LastError: err, Failures: 3}
				}
			}
			sock.Peers = append(sock.Peers, p)
		}
		doc.Sockets = append(doc.Sockets, sock)
	}
	return doc
}

func report(pods ...linkpoll.PodReport) *linkpoll.TopologyReport {
	r := &linkpoll.TopologyReport{Pods: map[string]linkpoll.PodReport{}}
	for _, p := range pods {
		r.Pods[p.Pod] = p
	}
	return r
}

func workerPod(z *zmqv1.ZMQTopology, i int, rtt []int64, err string) linkpoll.PodReport {
	name := fmt.Sprintf("pipeline-worker-7c9f-pod-%d", i)
	return linkpoll.NewPodReport(name, "worker", true, workerDoc(z, name, rtt, err))
}

// notProbedYet marks every peer of a pod's report as not probed yet.
func notProbedYet(p linkpoll.PodReport) linkpoll.PodReport {
	for name, peers := range p.Sockets {
		pending := make([]linkpoll.PeerReport, len(peers))
		for i, peer := range peers {
			pending[i] = linkpoll.PeerReport{Endpoint: peer.Endpoint, Pending: true}
		}
		p.Sockets[name] = pending
	}
	return p
}

const refused = "zmtp: probe tcp://pipeline-ventilator.ns.svc.cluster.local:5557 failed at connect: dial tcp 10.244.0.7:5557: connect: connection refused"

// rollUp computes the status of z from all-ready workloads and a report.
// The conditions' transition times are cleared: the computations compared
// here run at different times.
func rollUp(z *zmqv1.ZMQTopology, w map[string]workload, r *linkpoll.TopologyReport) *zmqv1.ZMQTopology {
	z = z.DeepCopy()
	computeStatus(&scope{topology: z, original: z.DeepCopy(), workloads: w, links: r}, "cluster.local")
	for i := range z.Status.Conditions {
		z.Status.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	return z
}

func TestLinkRollUp(t *testing.T) {
	z := pipelineFixture(t, 1)
	z3 := pipelineFixture(t, 2)
	up := []int64{101}
	for _, tc := range []struct {
		name     string
		z        *zmqv1.ZMQTopology
		report   *linkpoll.TopologyReport
		notReady string // a component whose workload lacks a replica

		wantTasks                  zmqv1.LinkStatus // of worker/tasks; From, To, Pattern filled in
		wantLinks                  string
		wantReady, wantDegraded    metav1.ConditionStatus
		wantReason, wantDegReason  string
		wantMessage, wantDegreeMsg string
	}{{
		name:      "before the first poll: both ends ready is enough",
		z:         z,
		wantTasks: zmqv1.LinkStatus{Ready: true},
		wantLinks: "2/2", wantReady: metav1.ConditionTrue, wantReason: zmqv1.ReasonReady,
		wantDegraded: metav1.ConditionFalse, wantDegReason: zmqv1.ReasonAsExpected,
	}, {
		name:      "up: every expected connection up, RTTs bucketed",
		z:         z,
		report:    report(workerPod(z, 0, []int64{101}, ""), workerPod(z, 1, []int64{180}, ""), workerPod(z, 2, []int64{1700}, "")),
		wantTasks: zmqv1.LinkStatus{Ready: true, ExpectedConnections: 3, ConnectionsUp: 3, RTTP50Micros: 200, RTTMaxMicros: 2000},
		wantLinks: "2/2", wantReady: metav1.ConditionTrue, wantReason: zmqv1.ReasonReady,
		wantDegraded: metav1.ConditionFalse, wantDegReason: zmqv1.ReasonAsExpected,
	}, {
		name:   "down: one worker cannot reach the ventilator",
		z:      z,
		report: report(workerPod(z, 0, up, ""), workerPod(z, 1, up, ""), workerPod(z, 2, []int64{-1}, refused)),
		wantTasks: zmqv1.LinkStatus{ExpectedConnections: 3, ConnectionsUp: 2, RTTP50Micros: 200, RTTMaxMicros: 200,
			Reason: "pipeline-worker-7c9f-pod-2 -> pipeline-ventilator: connection refused"},
		wantLinks: "1/2", wantReady: metav1.ConditionFalse, wantReason: zmqv1.ReasonLinkDown,
		wantMessage:  "link worker/tasks -> ventilator/tasks: 2/3 connections up: pipeline-worker-7c9f-pod-2 -> pipeline-ventilator: connection refused",
		wantDegraded: metav1.ConditionTrue, wantDegReason: zmqv1.ReasonLinkDown, wantDegreeMsg: "pipeline-worker-7c9f-pod-2 -> pipeline-ventilator: connection refused",
	}, {
		name: "partial: per-replica endpoints, one worker reaches one of two ventilators",
		z:    z3,
		report: report(workerPod(z3, 0, []int64{90, 95}, ""), workerPod(z3, 1, []int64{90, 95}, ""),
			workerPod(z3, 2, []int64{90, -1}, "zmtp: probe tcp://x failed at ready: context deadline exceeded (read tcp 10.0.0.1:4242->10.0.0.9:5557: i/o timeout)")),
		wantTasks: zmqv1.LinkStatus{ExpectedConnections: 6, ConnectionsUp: 5, RTTP50Micros: 100, RTTMaxMicros: 100,
			Reason: "pipeline-worker-7c9f-pod-2 -> pipeline-ventilator-1: i/o timeout"},
		wantLinks: "1/2", wantReady: metav1.ConditionFalse, wantReason: zmqv1.ReasonLinkDown,
		wantDegraded: metav1.ConditionTrue, wantDegReason: zmqv1.ReasonLinkDown, wantDegreeMsg: "5/6 connections up",
	}, {
		name: "stale pod: its sidecar stopped answering, its connections do not count",
		z:    z,
		report: report(workerPod(z, 0, up, ""), workerPod(z, 1, up, ""),
			linkpoll.PodReport{Pod: "pipeline-worker-7c9f-pod-2", Component: "worker", Ready: true, Stale: true, Error: "sidecar status unavailable: i/o timeout"}),
		wantTasks: zmqv1.LinkStatus{ExpectedConnections: 3, ConnectionsUp: 2, RTTP50Micros: 200, RTTMaxMicros: 200,
			Reason: "pipeline-worker-7c9f-pod-2: sidecar status unavailable: i/o timeout"},
		wantLinks: "0/2", wantReady: metav1.ConditionFalse, wantReason: zmqv1.ReasonLinkDown,
		wantDegraded: metav1.ConditionTrue, wantDegReason: zmqv1.ReasonLinkDown, wantDegreeMsg: "(1 more links down)",
	}, {
		name:      "a ready pod not seen by the poller yet: not known, not down",
		z:         z,
		report:    report(workerPod(z, 0, up, ""), workerPod(z, 1, up, "")),
		wantTasks: zmqv1.LinkStatus{Ready: true, ExpectedConnections: 3, ConnectionsUp: 2, RTTP50Micros: 200, RTTMaxMicros: 200},
		wantLinks: "2/2", wantReady: metav1.ConditionTrue, wantReason: zmqv1.ReasonReady,
		wantDegraded: metav1.ConditionFalse, wantDegReason: zmqv1.ReasonAsExpected,
	}, {
		name:      "an endpoint the sidecar has not probed yet: not known, not down",
		z:         z,
		report:    report(workerPod(z, 0, up, ""), workerPod(z, 1, up, ""), notProbedYet(workerPod(z, 2, up, ""))),
		wantTasks: zmqv1.LinkStatus{Ready: true, ExpectedConnections: 3, ConnectionsUp: 2, RTTP50Micros: 200, RTTMaxMicros: 200},
		wantLinks: "2/2", wantReady: metav1.ConditionTrue, wantReason: zmqv1.ReasonReady,
		wantDegraded: metav1.ConditionFalse, wantDegReason: zmqv1.ReasonAsExpected,
	}, {
		name: "a starting pod whose sidecar has not answered yet (pending): not known, not down",
		z:    z,
		report: report(workerPod(z, 0, up, ""), workerPod(z, 1, up, ""),
			linkpoll.PodReport{Pod: "pipeline-worker-7c9f-pod-2", Component: "worker", Ready: true, Pending: true}),
		wantTasks: zmqv1.LinkStatus{Ready: true, ExpectedConnections: 3, ConnectionsUp: 2, RTTP50Micros: 200, RTTMaxMicros: 200},
		wantLinks: "2/2", wantReady: metav1.ConditionTrue, wantReason: zmqv1.ReasonReady,
		wantDegraded: metav1.ConditionFalse, wantDegReason: zmqv1.ReasonAsExpected,
	}, {
		name:     "a component not ready: its own problem, not LinkDown",
		z:        z,
		notReady: "ventilator",
		report:   report(workerPod(z, 0, up, ""), workerPod(z, 1, up, ""), workerPod(z, 2, []int64{-1}, refused)),
		wantTasks: zmqv1.LinkStatus{ExpectedConnections: 3, ConnectionsUp: 2, RTTP50Micros: 200, RTTMaxMicros: 200,
			Reason: "component ventilator is not ready"},
		wantLinks: "1/2", wantReady: metav1.ConditionFalse, wantReason: zmqv1.ReasonComponentNotReady,
		wantDegraded: metav1.ConditionTrue, wantDegReason: zmqv1.ReasonReplicasUnavailable,
	}, {
		name: "a pod that is not ready does not count",
		z:    z,
		report: report(workerPod(z, 0, up, ""), workerPod(z, 1, up, ""), workerPod(z, 2, up, ""),
			func() linkpoll.PodReport {
				p := workerPod(z, 3, []int64{-1}, refused)
				p.Ready = false
				return p
			}()),
		wantTasks: zmqv1.LinkStatus{Ready: true, ExpectedConnections: 3, ConnectionsUp: 3, RTTP50Micros: 200, RTTMaxMicros: 200},
		wantLinks: "2/2", wantReady: metav1.ConditionTrue, wantReason: zmqv1.ReasonReady,
		wantDegraded: metav1.ConditionFalse, wantDegReason: zmqv1.ReasonAsExpected,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := rolledOutWorkloads(tc.z)
			if tc.notReady != "" {
				nw := w[tc.notReady]
				nw.ready, nw.available = nw.ready-1, nw.available-1
				w[tc.notReady] = nw
			}
			got := rollUp(tc.z, w, tc.report)
			want := tc.wantTasks
			want.From, want.To, want.Pattern = "worker/tasks", "ventilator/tasks", "PUSH-PULL"
			if !reflect.DeepEqual(got.Status.Links[0], want) {
				t.Errorf("worker/tasks link\n got %+v\nwant %+v", got.Status.Links[0], want)
			}
			if got.Status.LinksReady != tc.wantLinks {
				t.Errorf("linksReady %s, want %s", got.Status.LinksReady, tc.wantLinks)
			}
			ready := meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionReady)
			if ready.Status != tc.wantReady || ready.Reason != tc.wantReason || !strings.Contains(ready.Message, tc.wantMessage) {
				t.Errorf("Ready %s %s %q; want %s %s %q", ready.Status, ready.Reason, ready.Message, tc.wantReady, tc.wantReason, tc.wantMessage)
			}
			deg := meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionDegraded)
			if deg.Status != tc.wantDegraded || deg.Reason != tc.wantDegReason || !strings.Contains(deg.Message, tc.wantDegreeMsg) {
				t.Errorf("Degraded %s %s %q; want %s %s %q", deg.Status, deg.Reason, deg.Message, tc.wantDegraded, tc.wantDegReason, tc.wantDegreeMsg)
			}
			// A link down is the data plane's problem, not the operator's:
			// kstatus (Reconciling, Stalled) reads the topology as Current.
			for _, typ := range []string{zmqv1.ConditionReconciling, zmqv1.ConditionStalled} {
				if c := meta.FindStatusCondition(got.Status.Conditions, typ); c.Status != metav1.ConditionFalse {
					t.Errorf("%s = %s (%s)", typ, c.Status, c.Message)
				}
			}
		})
	}
}

// TestLinkRollUpSteadyUnderJitter: round trips that move within their
// bucket, and errors that differ only in ephemeral ports, leave status
// unchanged, so a steady topology is never rewritten.
func TestLinkRollUpSteadyUnderJitter(t *testing.T) {
	z := pipelineFixture(t, 1)
	w := rolledOutWorkloads(z)
	timeout := func(port int) string {
		return fmt.Sprintf("zmtp: probe tcp://pipeline-ventilator:5557 failed at ping: context canceled (read tcp 10.244.0.9:%d->10.244.0.7:5557: i/o timeout)", port)
	}
	a := rollUp(z, w, report(workerPod(z, 0, []int64{110}, ""), workerPod(z, 1, []int64{1100}, ""), workerPod(z, 2, []int64{-1}, timeout(40001))))
	b := rollUp(z, w, report(workerPod(z, 0, []int64{190}, ""), workerPod(z, 1, []int64{1900}, ""), workerPod(z, 2, []int64{-1}, timeout(52123))))
	if !statusEqual(a.Status, b.Status) {
		t.Errorf("status changed under jitter:\n%+v\n%+v", a.Status.Links, b.Status.Links)
	}
	if a.Status.Links[0].Reason != "pipeline-worker-7c9f-pod-2 -> pipeline-ventilator: i/o timeout" {
		t.Errorf("reason %q", a.Status.Links[0].Reason)
	}
	// Across a bucket boundary it does change.
	c := rollUp(z, w, report(workerPod(z, 0, []int64{210}, ""), workerPod(z, 1, []int64{2100}, ""), workerPod(z, 2, []int64{-1}, timeout(1))))
	if statusEqual(a.Status, c.Status) {
		t.Error("status did not change when the RTTs crossed a bucket")
	}
}

func TestBucket(t *testing.T) {
	for _, tc := range []struct{ in, want int64 }{
		{-5, 0}, {0, 0}, {1, 1}, {2, 2}, {3, 5}, {5, 5}, {6, 10}, {11, 20}, {101, 200}, {180, 200}, {200, 200},
		{201, 500}, {501, 1000}, {1_000_001, 2_000_000},
	} {
		if got := linkpoll.Bucket(tc.in); got != tc.want {
			t.Errorf("Bucket(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestPeerHostAndShortError(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://pipe-ventilator-0.pipe-ventilator-headless.ns.svc.cluster.local:5557": "pipe-ventilator-0",
		"tcp://pipe-sink:5558":     "pipe-sink",
		"tcp://10.0.0.7:5557":      "10.0.0.7:5557",
		"tcp://[fd00::7]:5557":     "[fd00::7]:5557",
		"tcp://legacy.example:700": "legacy",
	} {
		if got := linkpoll.PeerHost(in); got != want {
			t.Errorf("PeerHost(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		refused: "connection refused",
		"zmtp: probe tcp://x failed at ping: context canceled (read tcp 127.0.0.1:60482->127.0.0.1:34513: i/o timeout)": "i/o timeout",
		`Get "http://10.0.0.1:9917/status": context deadline exceeded`:                                                  "context deadline exceeded",
		"": "down",
	} {
		if got := linkpoll.ShortError(in); got != want {
			t.Errorf("ShortError(%q) = %q, want %q", in, got, want)
		}
	}
}
