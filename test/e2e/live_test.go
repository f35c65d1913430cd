//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// livePubSub is the pub/sub sample with endpointUpdates: Live on every
// publisher and subscriber, plus an "edge" publisher that connects straight
// to the frontend of the Forwarder's third replica (which does not exist
// until the test scales the Forwarder from 2 to 3): what a subscriber hears
// from it can only have come through that new replica. Connecting by
// address, it is not a declared connector of the frontend, so the
// frontend's bind.allowFrom admits it through the NetworkPolicy.
const livePubSub = `apiVersion: zmq.topology.dev/v1alpha1
kind: ZMQTopology
metadata:
  name: pubsub
spec:
  socketDefaults:
    sndhwm: 10000
    heartbeat: {intervalMillis: 1000, timeoutMillis: 3000}
  components:
  - name: events
    replicas: 2
    device: {type: Forwarder}
    sockets:
    # The edge publisher connects by address, not as a declared connector:
    # the frontend's NetworkPolicy admits it through allowFrom.
    - {name: frontend, type: XSUB, bind: {port: 5559, allowFrom: [{podSelector: {matchLabels: {zmq.topology.dev/component: edge}}}]}}
    - {name: backend, type: XPUB, bind: {port: 5560}}
  - name: prices
    replicas: 2
    endpointUpdates: Live
    template:
      spec:
        containers:
        - {name: app, image: zmq-operator-examples:dev, args: [publisher, --topic=prices]}
    sockets:
    - {name: out, type: PUB, connect: {component: events, socket: frontend}}
  - name: news
    endpointUpdates: Live
    template:
      spec:
        containers:
        - {name: app, image: zmq-operator-examples:dev, args: [publisher, --topic=news]}
    sockets:
    - {name: out, type: PUB, connect: {component: events, socket: frontend}}
  - name: edge
    endpointUpdates: Live
    template:
      spec:
        containers:
        - {name: app, image: zmq-operator-examples:dev, args: [publisher, --topic=news, --rate=20]}
    sockets:
    - {name: out, type: PUB, connect: {address: "tcp://pubsub-events-2.pubsub-events-headless.NAMESPACE.svc.cluster.local:5559"}}
  - name: dashboard
    replicas: 2
    endpointUpdates: Live
    template:
      spec:
        containers:
        - {name: app, image: zmq-operator-examples:dev, args: [subscriber, --topic=prices, --topic=news]}
    sockets:
    - {name: in, type: SUB, connect: {component: events, socket: backend}}
  - name: audit
    endpointUpdates: Live
    template:
      spec:
        containers:
        - {name: app, image: zmq-operator-examples:dev, args: [subscriber, --topic=news]}
    sockets:
    - {name: in, type: SUB, connect: {component: events, socket: backend}, options: {rcvhwm: 100000}}
`

// liveDelayBound is the propagation delay the README documents for a
// kubelet with default settings (sync period 1 m plus jitter and the
// ConfigMap cache): the e2e cluster's kubelet syncs every 10 s, so it is
// comfortably inside.
const liveDelayBound = 90 * time.Second

// podState is what must not change for a pod that was not restarted.
type podState struct {
	uid      string
	restarts int
}

// podStates maps pod name to UID and the sum of its containers' restart
// counts (init containers, so the native sidecar, included) for the pods of
// the given components.
func podStates(ctx context.Context, t *testing.T, ns string, components ...string) map[string]podState {
	t.Helper()
	out := mustKubectl(ctx, t, "-n", ns, "get", "pods", "-l",
		"zmq.topology.dev/component in ("+strings.Join(components, ",")+")", "-o", "json")
	var list struct {
		Items []struct {
			Metadata struct{ Name, UID string }
			Status   struct {
				ContainerStatuses, InitContainerStatuses []struct{ RestartCount int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	states := map[string]podState{}
	for _, it := range list.Items {
		n := 0
		for _, c := range append(it.Status.ContainerStatuses, it.Status.InitContainerStatuses...) {
			n += c.RestartCount
		}
		states[it.Metadata.Name] = podState{it.Metadata.UID, n}
	}
	return states
}

// generations maps each Deployment of the topology to its generation.
func generations(ctx context.Context, t *testing.T, ns string) map[string]string {
	t.Helper()
	out := mustKubectl(ctx, t, "-n", ns, "get", "deployments", "-o",
		`jsonpath={range .items[*]}{.metadata.name}={.metadata.generation}{"\n"}{end}`)
	g := map[string]string{}
	for _, l := range strings.Fields(out) {
		name, gen, _ := strings.Cut(l, "=")
		g[name] = gen
	}
	return g
}

// subStats is a subscriber's /stats.
type subStats struct {
	ByPublisher map[string]int
	Endpoints   map[string][]string
	Unexpected  int
}

// TestLiveEndpoints scales the pub/sub Forwarder from 2 to 3 replicas under
// endpointUpdates: Live. No publisher or subscriber pod is restarted or
// replaced, their Deployments keep their generation, and within the
// documented delay every subscriber connects to the new replica and
// receives, without loss once connected, what the edge publisher sends
// through it. It reports the propagation delay it measured.
func TestLiveEndpoints(t *testing.T) {
	ctx := featureOnly(t)
	ns := newNamespace(ctx, t, "e2e-live")
	applyManifest(ctx, t, ns, strings.ReplaceAll(livePubSub, "NAMESPACE", ns))
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/pubsub", "--timeout=240s")

	connectors := []string{"prices", "news", "edge", "dashboard", "audit"}
	before := podStates(ctx, t, ns, connectors...)
	gensBefore := generations(ctx, t, ns)
	subs := append(pods(ctx, t, ns, "pubsub", "dashboard"), pods(ctx, t, ns, "pubsub", "audit")...)
	edges := pods(ctx, t, ns, "pubsub", "edge")
	if len(before) != 7 || len(subs) != 3 || len(edges) != 1 {
		t.Fatalf("pods: %d connectors (want 7), %d subscribers (want 3), %d edge (want 1)", len(before), len(subs), len(edges))
	}
	edge := edges[0]
	// Everyone hears the other publishers first; nobody hears the edge.
	for _, p := range subs {
		eventually(t, 2*time.Minute, p.Name+" hears the news publisher", func() error {
			var s subStats
			if err := stats(ctx, p, &s); err != nil {
				return err
			}
			for pub, n := range s.ByPublisher {
				if strings.HasPrefix(pub, "pubsub-news-") && n > 0 {
					return nil
				}
			}
			return fmt.Errorf("by publisher: %v", s.ByPublisher)
		})
		var s subStats
		if err := stats(ctx, p, &s); err != nil {
			t.Fatal(err)
		}
		if s.ByPublisher[edge.Name] != 0 || len(s.Endpoints["in"]) != 2 {
			t.Fatalf("%s before the scale: endpoints %q, %d from the edge", p.Name, s.Endpoints["in"], s.ByPublisher[edge.Name])
		}
	}

	scaled := time.Now()
	mustKubectl(ctx, t, "-n", ns, "patch", "zt", "pubsub", "--type=json",
		"-p", `[{"op":"replace","path":"/spec/components/0/replicas","value":3}]`)
	// When the operator wrote the new endpoints: the subscribers' ConfigMaps.
	var written time.Time
	eventually(t, time.Minute, "the subscribers' ConfigMaps list 3 endpoints", func() error {
		for _, c := range []string{"dashboard", "audit"} {
			out := mustKubectl(ctx, t, "-n", ns, "get", "configmap", "pubsub-"+c+"-zmq", "-o", `jsonpath={.data.topology\.json}`)
			if n := strings.Count(out, ".pubsub-events-headless."); n != 3 {
				return fmt.Errorf("%s: %d endpoints", c, n)
			}
		}
		written = time.Now()
		return nil
	})

	// Each subscriber's file follows and it hears the edge publisher; all
	// are polled together so that each time is measured to the poll.
	seen, heard := map[string]time.Time{}, map[string]time.Time{}
	eventually(t, liveDelayBound, "every subscriber follows the new endpoints and hears the edge publisher", func() error {
		var missing []string
		for _, p := range subs {
			var s subStats
			if err := stats(ctx, p, &s); err != nil {
				return err
			}
			if s.Unexpected != 0 {
				return fmt.Errorf("%s: %d unexpected messages", p.Name, s.Unexpected)
			}
			now := time.Now()
			if _, ok := seen[p.Name]; !ok && len(s.Endpoints["in"]) == 3 {
				seen[p.Name] = now
			}
			if _, ok := heard[p.Name]; !ok && s.ByPublisher[edge.Name] > 0 {
				heard[p.Name] = now
			}
			if _, ok := heard[p.Name]; !ok {
				missing = append(missing, fmt.Sprintf("%s (endpoints %d)", p.Name, len(s.Endpoints["in"])))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("nothing from %s yet at %v", edge.Name, missing)
		}
		return nil
	})
	var worst time.Duration
	for _, p := range subs {
		d := seen[p.Name].Sub(written)
		worst = max(worst, d)
		t.Logf("%s: new endpoints applied %.1fs after the ConfigMap update (%.1fs after the scale); first message through the new replica %.1fs after the scale",
			p.Name, d.Seconds(), seen[p.Name].Sub(scaled).Seconds(), heard[p.Name].Sub(scaled).Seconds())
	}

	// The sidecar agents probe the new replica too.
	for _, p := range subs {
		eventually(t, liveDelayBound, p.Name+"'s agent probes the new replica", func() error {
			m, err := agentMetrics(ctx, p)
			if err != nil {
				return err
			}
			for k, v := range m {
				if strings.HasPrefix(k, "zmq_sidecar_peer_up{") && strings.Contains(k, "pubsub-events-2.") && v == 1 {
					return nil
				}
			}
			return fmt.Errorf("no zmq_sidecar_peer_up for pubsub-events-2 yet")
		})
	}
	t.Logf("propagation delay, ConfigMap update -> endpoints applied in the pod (kubelet syncFrequency 10s, Watch strategy, 2s file poll): worst %.1fs over %d pods (test polls every ~0.5s)", worst.Seconds(), len(subs))

	// Once connected, nothing the edge sends through the new replica is
	// lost: a quiet window, a burst, a quiet window, counted exactly.
	count := func() (sent int, got map[string]int) {
		var e struct{ Sent map[string]int }
		if err := stats(ctx, edge, &e); err != nil {
			t.Fatal(err)
		}
		got = map[string]int{}
		for _, p := range subs {
			var s subStats
			if err := stats(ctx, p, &s); err != nil {
				t.Fatal(err)
			}
			got[p.Name] = s.ByPublisher[edge.Name]
		}
		return e.Sent["news"], got
	}
	quiet := func() {
		if err := setPaused(ctx, edge, true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
	}
	quiet()
	sent0, got0 := count()
	if err := setPaused(ctx, edge, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	quiet()
	sent1, got1 := count()
	if sent1-sent0 < 50 {
		t.Fatalf("the edge publisher sent only %d messages in 5 s", sent1-sent0)
	}
	for _, p := range subs {
		if d := got1[p.Name] - got0[p.Name]; d != sent1-sent0 {
			t.Errorf("%s received %d of the %d messages the edge publisher sent through the new replica", p.Name, d, sent1-sent0)
		}
	}
	t.Logf("edge publisher: %d messages through the new replica, every subscriber received all of them", sent1-sent0)

	// Nothing was restarted or replaced, no Deployment rolled.
	after := podStates(ctx, t, ns, connectors...)
	if !mapsEqual(before, after) {
		t.Errorf("publisher/subscriber pods changed:\nbefore %v\nafter  %v", before, after)
	}
	if gensAfter := generations(ctx, t, ns); !mapsEqual(gensBefore, gensAfter) {
		t.Errorf("Deployment generations changed: before %v, after %v", gensBefore, gensAfter)
	}
}

// TestRestartEndpointsRoll is the same scale under the default
// endpointUpdates (Restart): the subscribers' Deployments roll, their pods
// are replaced, and the new pods carry the new endpoints in their
// environment.
func TestRestartEndpointsRoll(t *testing.T) {
	ctx := featureOnly(t)
	ns := newNamespace(ctx, t, "e2e-restart")
	applySample(ctx, t, ns, "zmq_v1alpha1_pubsub.yaml", "pubsub")
	subsBefore := podStates(ctx, t, ns, "dashboard", "audit")
	pubsBefore := podStates(ctx, t, ns, "prices", "news")
	gensBefore := generations(ctx, t, ns)

	mustKubectl(ctx, t, "-n", ns, "patch", "zt", "pubsub", "--type=json",
		"-p", `[{"op":"replace","path":"/spec/components/0/replicas","value":3}]`)
	waitReady(ctx, t, ns, "pubsub", 4*time.Minute)
	eventually(t, 3*time.Minute, "every subscriber pod replaced", func() error {
		after := podStates(ctx, t, ns, "dashboard", "audit")
		if len(after) != len(subsBefore) {
			return fmt.Errorf("%d subscriber pods, want %d", len(after), len(subsBefore))
		}
		for name := range after {
			if _, old := subsBefore[name]; old {
				return fmt.Errorf("%s still runs", name)
			}
		}
		return nil
	})
	gensAfter := generations(ctx, t, ns)
	for _, d := range []string{"pubsub-dashboard", "pubsub-audit"} {
		if gensAfter[d] == gensBefore[d] {
			t.Errorf("%s kept generation %s", d, gensAfter[d])
		}
	}
	for _, d := range []string{"pubsub-prices", "pubsub-news"} {
		// Publishers reach the Forwarder through its ClusterIP Service,
		// whose address does not change with its replicas.
		if gensAfter[d] != gensBefore[d] {
			t.Errorf("%s rolled (generation %s -> %s) though its endpoints did not change", d, gensBefore[d], gensAfter[d])
		}
	}
	if after := podStates(ctx, t, ns, "prices", "news"); !mapsEqual(pubsBefore, after) {
		t.Errorf("publisher pods changed: before %v, after %v", pubsBefore, after)
	}
	env := mustKubectl(ctx, t, "-n", ns, "get", "deployment", "pubsub-dashboard", "-o",
		`jsonpath={.spec.template.spec.containers[0].env[?(@.name=="ZMQ_IN_ENDPOINTS")].value}`)
	if n := len(strings.Split(env, ",")); n != 3 || !slices.ContainsFunc(strings.Split(env, ","), func(s string) bool { return strings.Contains(s, "pubsub-events-2.") }) {
		t.Errorf("ZMQ_IN_ENDPOINTS = %q; want the 3 replicas", env)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
