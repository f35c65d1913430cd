//go:build e2e

package e2e

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/deploy"
)

// curveSample returns a sample topology with spec.security.mechanism CURVE.
func curveSample(t *testing.T, file string) string {
	t.Helper()
	raw := sample(t, file)
	out := strings.Replace(raw, "\nspec:\n", "\nspec:\n  security: {mechanism: CURVE}\n", 1)
	if out == raw {
		t.Fatalf("%s has no top-level spec:", file)
	}
	return out
}

// TestCurvePipeline: the pipeline sample with CURVE reaches Ready (every
// sidecar's readiness probe authenticated against its own CURVE server)
// and every task the ventilator sends reaches the sink through every
// worker, over encrypted, mutually authenticated links.
func TestCurvePipeline(t *testing.T) {
	ctx := featureOnly(t)
	ns := newNamespace(ctx, t, "e2e-curve-pipeline")
	applyManifest(ctx, t, ns, curveSample(t, "zmq_v1alpha1_pipeline.yaml"))
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/pipeline", "--timeout=240s")
	if env := mustKubectl(ctx, t, "-n", ns, "get", "deployment", "pipeline-worker", "-o",
		`jsonpath={.spec.template.spec.containers[0].env[?(@.name=="ZMQ_TASKS_MECHANISM")].value}`); env != "CURVE" {
		t.Fatalf("ZMQ_TASKS_MECHANISM = %q", env)
	}
	for _, c := range []string{"ventilator", "worker", "sink"} {
		mustKubectl(ctx, t, "-n", ns, "get", "secret", "pipeline-"+c+"-curve")
	}
	checkEveryTaskArrives(ctx, t, ns, 3, 1)
}

// TestCurvePubSub: the pub/sub sample with CURVE: every subscriber hears
// every publisher through the Forwarder; a pod outside the topology that
// knows the device's public key and endpoints but brings a self-made key
// cannot subscribe: it receives nothing and the device counts its refused
// handshakes. The topology opts out of NetworkPolicies (the cluster enforces
// them, and they would stop the outsider first): CURVE alone holds.
func TestCurvePubSub(t *testing.T) {
	ctx := featureOnly(t)
	ns := newNamespace(ctx, t, "e2e-curve-pubsub")
	noPolicies := strings.Replace(curveSample(t, "zmq_v1alpha1_pubsub.yaml"), "\nspec:\n", "\nspec:\n  networkPolicy: {enabled: false}\n", 1)
	applyManifest(ctx, t, ns, noPolicies)
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "zt/pubsub", "--timeout=240s")

	// kubectl zmq ping probes as the socket, with the component's keys:
	// a subscriber completes the CURVE handshake with both Forwarder
	// replicas and verifies their server key, beyond the greeting.
	dash := pods(ctx, t, ns, "pubsub", "dashboard")
	if len(dash) == 0 {
		t.Fatal("no dashboard pod")
	}
	out, err := kubectlZmq(ctx, t, ns)(nil, "ping", dash[0].Name, "in")
	if err != nil || !strings.Contains(out, "2/2 endpoints answered") || strings.Count(out, "curve:       server key verified") != 2 || strings.Count(out, "socket-type: XPUB") != 2 {
		t.Errorf("kubectl zmq ping %s in: %v\n%s", dash[0].Name, err, out)
	}

	var publishers []string
	for _, c := range []string{"prices", "news"} {
		for _, p := range pods(ctx, t, ns, "pubsub", c) {
			publishers = append(publishers, p.Name)
		}
	}
	for _, p := range pods(ctx, t, ns, "pubsub", "dashboard") {
		eventually(t, 2*time.Minute, p.Name+" hears every publisher", func() error {
			var s struct{ ByPublisher map[string]int }
			if err := stats(ctx, p, &s); err != nil {
				return err
			}
			for _, pub := range publishers {
				if s.ByPublisher[pub] == 0 {
					return fmt.Errorf("nothing from %s yet: %v", pub, s.ByPublisher)
				}
			}
			return nil
		})
	}

	// The outsider: the subscriber example with a hand-written socket
	// configuration, the device's real public key and endpoints, and a key
	// pair of its own.
	endpoints := mustKubectl(ctx, t, "-n", ns, "get", "deployment", "pubsub-dashboard", "-o",
		`jsonpath={.spec.template.spec.containers[0].env[?(@.name=="ZMQ_IN_ENDPOINTS")].value}`)
	serverKey := strings.TrimSpace(mustKubectl(ctx, t, "-n", ns, "get", "configmap", "pubsub-events-curve-keys", "-o", `jsonpath={.data.events}`))
	if len(serverKey) != 40 || endpoints == "" {
		t.Fatalf("device key %q, endpoints %q", serverKey, endpoints)
	}
	applyManifest(ctx, t, ns, outsiderManifest(t, ns, strings.Split(endpoints, ","), serverKey))
	mustKubectl(ctx, t, "-n", ns, "wait", "--for=condition=Ready", "pod/outsider", "--timeout=120s")
	ip := mustKubectl(ctx, t, "-n", ns, "get", "pod", "outsider", "-o", "jsonpath={.status.podIP}")
	outsider := deploy.Pod{Name: "outsider", IP: ip}

	devices := pods(ctx, t, ns, "pubsub", "events")
	refusals := func() (float64, error) {
		total := 0.0
		for _, d := range devices {
			body, err := deploy.Get(ctx, "http://"+d.IP+":9918/metrics")
			if err != nil {
				return 0, err
			}
			total += metricsText(body)[`zmq_device_auth_failures_total{side="backend"}`]
		}
		return total, nil
	}
	eventually(t, time.Minute, "both devices refuse the outsider's key", func() error {
		for _, d := range devices {
			body, err := deploy.Get(ctx, "http://"+d.IP+":9918/metrics")
			if err != nil {
				return err
			}
			if n := metricsText(body)[`zmq_device_auth_failures_total{side="backend"}`]; n < 1 {
				return fmt.Errorf("%s counted %v refused backend handshakes", d.Name, n)
			}
		}
		return nil
	})
	before, err := refusals()
	if err != nil {
		t.Fatal(err)
	}
	// Publishers keep publishing (the dashboards' counters grow) while the
	// outsider, retrying all along, gets nothing.
	var dash0 struct{ ByPublisher map[string]int }
	dashboard := pods(ctx, t, ns, "pubsub", "dashboard")[0]
	if err := stats(ctx, dashboard, &dash0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	var s struct {
		ByTopic    map[string]int
		Unexpected int
	}
	if err := stats(ctx, outsider, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.ByTopic) != 0 || s.Unexpected != 0 {
		t.Fatalf("the outsider received messages: %+v", s)
	}
	var dash1 struct{ ByPublisher map[string]int }
	if err := stats(ctx, dashboard, &dash1); err != nil {
		t.Fatal(err)
	}
	grew := false
	for _, pub := range publishers {
		grew = grew || dash1.ByPublisher[pub] > dash0.ByPublisher[pub]
	}
	after, err := refusals()
	if err != nil {
		t.Fatal(err)
	}
	if !grew || after <= before {
		t.Fatalf("in 10 s the dashboard heard more: %v; refusals %v -> %v (want both to grow)", grew, before, after)
	}
	t.Logf("outsider: 0 messages; devices refused %v backend handshakes (%v in the last 10 s)", after, after-before)
}

// outsiderManifest is a pod outside the topology: the example subscriber
// with a self-made CURVE key, told the device's public key and endpoints.
func outsiderManifest(t *testing.T, ns string, endpoints []string, serverKey string) string {
	t.Helper()
	priv, err := ecdh.X25519().GenerateKey(rand.Reader) // a CURVE key pair is an X25519 key pair
	if err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(endpoints))
	for i, e := range endpoints {
		quoted[i] = fmt.Sprintf("%q", e)
	}
	config := fmt.Sprintf(`{"topology":"outsider","namespace":%q,"component":"outsider","sockets":[{"name":"in","type":"SUB","bind":false,"endpoints":[%s],`+
		`"security":{"mechanism":"CURVE","secretKeyFile":"/etc/outsider-key/secret-key","serverPublicKeyFile":"/etc/outsider/server-key"}}]}`,
		ns, strings.Join(quoted, ","))
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: outsider-key}
stringData:
  secret-key: %q
---
apiVersion: v1
kind: ConfigMap
metadata: {name: outsider}
data:
  topology.json: %q
  server-key: %q
---
apiVersion: v1
kind: Pod
metadata: {name: outsider}
spec:
  containers:
  - name: app
    image: zmq-operator-examples:dev
    args: [subscriber, --topic=prices, --topic=news, --config=/etc/outsider/topology.json]
    readinessProbe:
      httpGet: {path: /stats, port: 8080}
      periodSeconds: 2
    volumeMounts:
    - {name: config, mountPath: /etc/outsider}
    - {name: key, mountPath: /etc/outsider-key}
  volumes:
  - name: config
    configMap: {name: outsider}
  - name: key
    secret: {secretName: outsider-key}
`, z85(priv.Bytes()), config, serverKey)
}

// z85 encodes a 32-octet key (RFC 32).
func z85(b []byte) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
	var out []byte
	for i := 0; i+4 <= len(b); i += 4 {
		v := binary.BigEndian.Uint32(b[i:])
		var chunk [5]byte
		for j := 4; j >= 0; j-- {
			chunk[j] = alphabet[v%85]
			v /= 85
		}
		out = append(out, chunk[:]...)
	}
	return string(out)
}
