//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestPipeline: the PUSH/PULL sample reaches Ready through real pods; the
// sink receives every task the ventilator sent, spread over all workers,
// with no duplicates; scaling the ventilator (a bound component) gives the
// workers an endpoint per replica and tasks from every replica arrive; a
// deleted pod turns the topology NotReady naming the component, then Ready.
func TestPipeline(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-pipeline")
	applySample(ctx, t, ns, "zmq_v1alpha1_pipeline.yaml", "pipeline")

	checkEveryTaskArrives(ctx, t, ns, 3, 1)

	// Scale the bound ventilator: it becomes a StatefulSet behind a headless
	// Service and every worker connects to both replicas.
	mustKubectl(ctx, t, "-n", ns, "patch", "zt", "pipeline", "--type=json",
		"-p", `[{"op":"replace","path":"/spec/components/0/replicas","value":2}]`)
	eventually(t, 3*time.Minute, "workers connect to both ventilator replicas", func() error {
		env := mustKubectl(ctx, t, "-n", ns, "get", "deployment", "pipeline-worker", "-o",
			`jsonpath={.spec.template.spec.containers[0].env[?(@.name=="ZMQ_TASKS_ENDPOINTS")].value}`)
		want := fmt.Sprintf("tcp://pipeline-ventilator-0.pipeline-ventilator-headless.%[1]s.svc.cluster.local:5557,"+
			"tcp://pipeline-ventilator-1.pipeline-ventilator-headless.%[1]s.svc.cluster.local:5557", ns)
		if env != want {
			return fmt.Errorf("ZMQ_TASKS_ENDPOINTS = %q", env)
		}
		return nil
	})
	waitReady(ctx, t, ns, "pipeline", 4*time.Minute)
	if out, _ := kubectl(ctx, "-n", ns, "get", "deployment", "pipeline-ventilator"); out != "" {
		t.Errorf("the ventilator's old Deployment was not pruned:\n%s", out)
	}
	checkEveryTaskArrives(ctx, t, ns, 3, 2)

	// A deleted pod: Ready=False naming the component, then Ready again.
	sink := pods(ctx, t, ns, "pipeline", "sink")
	mustKubectl(ctx, t, "-n", ns, "delete", "pod", sink[0].Name, "--wait=false")
	eventually(t, time.Minute, "Ready=False naming the sink", func() error {
		status, reason, msg := readyCondition(ctx, t, ns, "pipeline")
		if status != "False" || reason != "ComponentNotReady" || !strings.Contains(msg, "component sink") {
			return fmt.Errorf("Ready=%s %s %q", status, reason, msg)
		}
		return nil
	})
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/pipeline", "--timeout=180s")

	// Deleting the topology deletes every child through the garbage
	// collector.
	mustKubectl(ctx, t, "-n", ns, "delete", "zt", "pipeline")
	eventually(t, 2*time.Minute, "children garbage-collected", func() error {
		out := mustKubectl(ctx, t, "-n", ns, "get", "deployments,statefulsets,services,configmaps,poddisruptionbudgets,pods",
			"-l", "zmq.topology.dev/topology=pipeline", "-o", "name")
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("left: %s", out)
		}
		return nil
	})
}

// checkEveryTaskArrives measures one quiet window: with the ventilators
// paused and the sink drained, it resumes them for a few seconds, pauses
// them again, and checks that the sink got exactly the tasks each
// ventilator sent in the window, spread over every worker, with no
// duplicates. (PUSH/PULL does not redeliver what a restarting peer held,
// so the count is exact only in a window without rollouts.)
func checkEveryTaskArrives(ctx context.Context, t *testing.T, ns string, workers, ventilators int) {
	t.Helper()
	var vents, ws []pod
	eventually(t, 3*time.Minute, "every pod of the pipeline ready", func() error {
		vents, ws = pods(ctx, t, ns, "pipeline", "ventilator"), pods(ctx, t, ns, "pipeline", "worker")
		if len(vents) != ventilators || len(ws) != workers {
			return fmt.Errorf("%d ventilator and %d worker pods", len(vents), len(ws))
		}
		for _, p := range append(append([]pod{}, vents...), ws...) {
			if !p.Ready {
				return fmt.Errorf("pod %s not ready", p.Name)
			}
		}
		return nil
	})
	sink := pods(ctx, t, ns, "pipeline", "sink")[0]
	// Tasks must already flow end to end from every ventilator and through
	// every worker: until a worker's connection to the sink is up, its
	// results wait (and with them the tasks its ventilators requeued to it
	// when a worker it replaced went away), and would land inside the
	// measured window.
	eventually(t, 2*time.Minute, "tasks from every ventilator, through every worker, at the sink", func() error {
		var s sinkStats
		if err := stats(ctx, sink, &s); err != nil {
			return err
		}
		for _, v := range vents {
			if s.ByProducer[v.Name] == 0 {
				return fmt.Errorf("nothing from %s yet: %v", v.Name, s.ByProducer)
			}
		}
		for _, w := range ws {
			if s.ByWorker[w.Name] == 0 {
				return fmt.Errorf("nothing through %s yet: %v", w.Name, s.ByWorker)
			}
		}
		return nil
	})
	pause := func(paused bool) {
		for _, v := range vents {
			if err := setPaused(ctx, v, paused); err != nil {
				t.Fatal(err)
			}
		}
	}
	// quiesce pauses the ventilators and waits until the sink stops
	// receiving; it returns what each ventilator sent and the sink's stats.
	quiesce := func() (map[string]int, sinkStats) {
		pause(true)
		sent := map[string]int{}
		var last sinkStats
		quiet := 0 // consecutive polls without a new task at the sink
		eventually(t, time.Minute, "the sink drains", func() error {
			for _, v := range vents {
				var vs struct{ Sent int }
				if err := stats(ctx, v, &vs); err != nil {
					return err
				}
				sent[v.Name] = vs.Sent
			}
			var s sinkStats
			if err := stats(ctx, sink, &s); err != nil {
				return err
			}
			if s.Received != last.Received {
				quiet = 0
			} else {
				quiet++
			}
			last = s
			if quiet < 4 { // 2 s without a task: nothing is in flight
				return fmt.Errorf("sink still receiving (%d)", s.Received)
			}
			return nil
		})
		return sent, last
	}

	sent0, sink0 := quiesce()
	pause(false)
	time.Sleep(5 * time.Second)
	sent1, sink1 := quiesce()
	defer pause(false)

	total := 0
	for _, v := range vents {
		n := sent1[v.Name] - sent0[v.Name]
		got := sink1.ByProducer[v.Name] - sink0.ByProducer[v.Name]
		if n == 0 || got != n {
			t.Errorf("ventilator %s sent %d tasks in the window (%d -> %d); the sink got %d (%d -> %d)",
				v.Name, n, sent0[v.Name], sent1[v.Name], got, sink0.ByProducer[v.Name], sink1.ByProducer[v.Name])
		}
		total += n
	}
	if sink1.Duplicates != 0 {
		t.Errorf("%d duplicate tasks", sink1.Duplicates)
	}
	spread := map[string]int{}
	for _, w := range ws {
		spread[w.Name] = sink1.ByWorker[w.Name] - sink0.ByWorker[w.Name]
		if spread[w.Name] == 0 {
			t.Errorf("worker %s processed nothing in the window", w.Name)
		}
	}
	t.Logf("%d tasks from %d ventilators in the window, by worker %v", total, len(vents), spread)
}

type sinkStats struct {
	Received   int
	Duplicates int
	ByWorker   map[string]int
	ByProducer map[string]int
}

// TestPubSub: every subscriber hears its topics from every publisher pod,
// through the Forwarder device's replicas, and nothing else.
func TestPubSub(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-pubsub")
	applySample(ctx, t, ns, "zmq_v1alpha1_pubsub.yaml", "pubsub")

	var publishers []string
	for _, c := range []string{"prices", "news"} {
		for _, p := range pods(ctx, t, ns, "pubsub", c) {
			publishers = append(publishers, p.Name)
		}
	}
	sort.Strings(publishers)
	for _, sub := range []struct {
		component string
		topics    []string
		from      []string // publisher components heard
	}{
		{"dashboard", []string{"prices", "news"}, []string{"prices", "news"}},
		{"audit", []string{"news"}, []string{"news"}},
	} {
		for _, p := range pods(ctx, t, ns, "pubsub", sub.component) {
			eventually(t, 2*time.Minute, p.Name+" hears every publisher of its topics", func() error {
				var s struct {
					ByTopic, ByPublisher map[string]int
					Unexpected           int
				}
				if err := stats(ctx, p, &s); err != nil {
					return err
				}
				if s.Unexpected != 0 {
					return fmt.Errorf("%d messages of topics it did not subscribe to", s.Unexpected)
				}
				for topic := range s.ByTopic {
					if !contains(sub.topics, topic) {
						return fmt.Errorf("received topic %q", topic)
					}
				}
				for _, pub := range publishers {
					wanted := false
					for _, c := range sub.from {
						wanted = wanted || strings.HasPrefix(pub, "pubsub-"+c+"-")
					}
					if wanted && s.ByPublisher[pub] == 0 {
						return fmt.Errorf("nothing from %s yet: %v", pub, s.ByPublisher)
					}
					if !wanted && s.ByPublisher[pub] != 0 {
						return fmt.Errorf("heard %s: %v", pub, s.ByPublisher)
					}
				}
				return nil
			})
		}
	}
}

// TestRequestReply: REQ clients round-trip through the Queue device to the
// REP servers, which are go-zeromq/zmq4 applications.
func TestRequestReply(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-reqrep")
	applySample(ctx, t, ns, "zmq_v1alpha1_reqrep.yaml", "reqrep")
	for _, p := range pods(ctx, t, ns, "reqrep", "client") {
		var first struct{ Replies, Lost int }
		eventually(t, 2*time.Minute, p.Name+" gets replies", func() error {
			if err := stats(ctx, p, &first); err != nil {
				return err
			}
			if first.Replies < 10 {
				return fmt.Errorf("%d replies", first.Replies)
			}
			return nil
		})
		time.Sleep(3 * time.Second)
		var later struct{ Replies, Lost int }
		if err := stats(ctx, p, &later); err != nil {
			t.Fatal(err)
		}
		if later.Replies <= first.Replies || later.Lost != first.Lost {
			t.Errorf("%s: replies %d -> %d, lost %d -> %d", p.Name, first.Replies, later.Replies, first.Lost, later.Lost)
		}
	}
	served := 0
	for _, p := range pods(ctx, t, ns, "reqrep", "server") {
		var s struct{ Served int }
		if err := stats(ctx, p, &s); err != nil {
			t.Fatal(err)
		}
		if s.Served == 0 {
			t.Errorf("server %s served nothing", p.Name)
		}
		served += s.Served
	}
	t.Logf("servers answered %d requests", served)
}

// TestOperatorFaults: killing the operator while it reconciles converges
// without duplicate objects; an invalid edit is refused by the webhook and
// changes no running pod; the operator's log has no RBAC denial.
func TestOperatorFaults(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-faults")
	applyManifest(ctx, t, ns, sample(t, "zmq_v1alpha1_pubsub.yaml"))
	mustKubectl(ctx, t, "-n", "zmq-operator-system", "delete", "pod", "-l", "app.kubernetes.io/component=manager", "--grace-period=0", "--force")
	mustKubectl(ctx, t, "-n", "zmq-operator-system", "rollout", "status", "deployment/zmq-operator-controller-manager", "--timeout=180s")
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/pubsub", "--timeout=240s")
	out := mustKubectl(ctx, t, "-n", ns, "get", "deployments,statefulsets,services,configmaps", "-l", "zmq.topology.dev/topology=pubsub", "-o", "name")
	if got := len(strings.Fields(out)); got != 4+1+2+5 {
		t.Errorf("%d children after the operator restart, want 12:\n%s", got, out)
	}

	// An invalid edit is refused by the webhook with the field path, and
	// changes neither the topology nor any running pod. Right after the
	// restart the webhook Service may still lack the new pod's endpoint, so
	// only a refusal that names the field counts.
	before := podUIDs(ctx, t, ns)
	generation := mustKubectl(ctx, t, "-n", ns, "get", "zt", "pubsub", "-o", "jsonpath={.metadata.generation}")
	eventually(t, time.Minute, "the invalid edit refused naming the field", func() error {
		_, err := kubectl(ctx, "-n", ns, "patch", "zt", "pubsub", "--type=json",
			"-p", `[{"op":"replace","path":"/spec/components/1/sockets/0/type","value":"SUB"}]`)
		if err == nil {
			t.Fatal("an invalid edit was admitted")
		}
		if !strings.Contains(err.Error(), "spec.components[1].sockets[0].type") {
			return err
		}
		return nil
	})
	if got := mustKubectl(ctx, t, "-n", ns, "get", "zt", "pubsub", "-o", "jsonpath={.metadata.generation}"); got != generation {
		t.Errorf("generation %s after a refused edit, want %s", got, generation)
	}
	time.Sleep(5 * time.Second)
	if after := podUIDs(ctx, t, ns); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("pods changed after an invalid edit:\nbefore %v\nafter  %v", before, after)
	}

	// Writes into namespaces that earlier tests deleted are refused as
	// "forbidden ... being terminated"; that is not an RBAC denial.
	logs := mustKubectl(ctx, t, "-n", "zmq-operator-system", "logs", "deployment/zmq-operator-controller-manager")
	if denied := grep(logs, "forbidden", "being terminated"); denied != "" {
		t.Errorf("the operator hit RBAC denials:\n%s", denied)
	}

	// The manager's soft memory limit (GOMEMLIMIT) is 90% of its
	// container's memory limit, read from the cgroup at start.
	limit := mustKubectl(ctx, t, "-n", "zmq-operator-system", "get", "deployment/zmq-operator-controller-manager", "-o",
		`jsonpath={.spec.template.spec.containers[?(@.name=="manager")].resources.limits.memory}`)
	var mib uint64
	if _, err := fmt.Sscanf(limit, "%dMi", &mib); err != nil || !strings.HasSuffix(limit, "Mi") {
		t.Fatalf("the manager's memory limit %q: want <n>Mi as the chart and install.yaml set it", limit)
	}
	want := fmt.Sprint(uint64(float64(mib<<20) * 0.9))
	set := false
	for _, l := range strings.Split(logs, "\n") {
		set = set || (strings.Contains(l, "GOMEMLIMIT is updated") && strings.Contains(l, want))
	}
	if !set {
		t.Errorf("no GOMEMLIMIT of %s (90%% of %s) in the manager's log", want, limit)
	}
}

// TestWebhook: the validating webhook serves in the real cluster with the
// certificate the operator issued itself (self-signed mode, no
// cert-manager): the rotator filled the Secret and the caBundle, and
// `kubectl apply --dry-run=server` of a topology with a dangling connect is
// refused with the field path while the valid sample passes.
func TestWebhook(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-webhook")
	for _, key := range []string{"ca\\.crt", "tls\\.crt", "tls\\.key"} {
		if out := mustKubectl(ctx, t, "-n", "zmq-operator-system", "get", "secret", "zmq-operator-webhook-server-cert", "-o", "jsonpath={.data."+key+"}"); out == "" {
			t.Errorf("the webhook Secret has no %s", key)
		}
	}
	ca := mustKubectl(ctx, t, "get", "validatingwebhookconfiguration", "zmq-operator-validating-webhook-configuration", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}")
	if secretCA := mustKubectl(ctx, t, "-n", "zmq-operator-system", "get", "secret", "zmq-operator-webhook-server-cert", "-o", `jsonpath={.data.ca\.crt}`); ca == "" || ca != secretCA {
		t.Errorf("caBundle %.20q... is not the Secret's ca.crt %.20q...", ca, secretCA)
	}

	raw, err := os.ReadFile(repoRoot + "/config/samples/zmq_v1alpha1_pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	valid := string(raw)
	dangling := strings.Replace(valid, "connect: {component: ventilator, socket: tasks}", "connect: {component: ventilator, socket: nope}", 1)
	if dangling == valid {
		t.Fatal("the sample changed: no connect to ventilator/tasks to break")
	}
	_, err = k.RunStdin(ctx, dangling, "-n", ns, "apply", "--dry-run=server", "-f", "-")
	if err == nil {
		t.Fatal("a dangling connect was admitted")
	}
	for _, want := range []string{`spec.components[1].sockets[0].connect.socket`, `component "ventilator" has no socket named "nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("kubectl's error lacks %q: %v", want, err)
		}
	}
	out, err := k.RunStdin(ctx, valid, "-n", ns, "apply", "--dry-run=server", "-f", "-")
	if err != nil || !strings.Contains(out, "created (server dry run)") {
		t.Errorf("the valid sample: %v\n%s", err, out)
	}
}

func podUIDs(ctx context.Context, t *testing.T, ns string) []string {
	out := mustKubectl(ctx, t, "-n", ns, "get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.uid}{\"\\n\"}{end}")
	uids := strings.Fields(out)
	sort.Strings(uids)
	return uids
}

// grep returns the lines of text that contain substr (case-insensitive)
// and not unless.
func grep(text, substr, unless string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(strings.ToLower(l), substr) && !strings.Contains(l, unless) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
