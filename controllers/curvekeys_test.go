package controllers

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/pkg/zmqsocket"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// curveSecret reads a component's key Secret.
func getCurveSecret(ctx context.Context, g gomega.Gomega, z *zmqv1.ZMQTopology, comp string) *corev1.Secret {
	sec := &corev1.Secret{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: z.Namespace, Name: zmqv1.CurveSecretName(z.Name, comp)}, sec)).To(gomega.Succeed())
	return sec
}

func getCurveKeys(ctx context.Context, g gomega.Gomega, z *zmqv1.ZMQTopology, comp string) map[string]string {
	cm := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: z.Namespace, Name: zmqv1.CurveKeysConfigMapName(z.Name, comp)}, cm)).To(gomega.Succeed())
	return cm.Data
}

// writeAllowedDir lays out the allowed-client directory of a bound socket
// as the kubelet would project it from the keys ConfigMap.
func writeAllowedDir(t *testing.T, dir string, data map[string]string, clients []string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
	for _, n := range clients {
		for _, k := range []string{n, n + ".previous"} {
			if v, ok := data[k]; ok {
				if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

type keyPair struct {
	pub zmtp.CurvePublicKey
	sec zmtp.CurveSecretKey
}

func secretKeyPair(g gomega.Gomega, sec *corev1.Secret) keyPair {
	s, err := zmtp.ParseCurveSecretKey(string(sec.Data["secret-key"]))
	g.Expect(err).NotTo(gomega.HaveOccurred())
	p, err := zmtp.ParseCurvePublicKey(string(sec.Data["public-key"]))
	g.Expect(err).NotTo(gomega.HaveOccurred())
	derived, err := s.Public()
	g.Expect(err).NotTo(gomega.HaveOccurred())
	g.Expect(derived.Equal(p)).To(gomega.BeTrue(), "public-key is not the public key of secret-key")
	return keyPair{p, s}
}

// TestCurveKeys runs the pipeline sample with CURVE: the operator creates a
// key pair per component once (a drift-triggered reconcile does not touch
// them), publishes exactly the right public keys to each component, never
// shows a secret key in status or events, and rotates the worker's key with
// an overlap in which a PUSH server built from the published keys accepts
// both the old and the new worker key, then drops the old one once the
// worker has rolled.
func TestCurveKeys(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
	z.Spec.Security = &zmqv1.SecuritySpec{Mechanism: zmqv1.MechanismCurve}
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())

	comps := []string{"ventilator", "worker", "sink"}
	pairs := map[string]keyPair{}
	versions := map[string]string{}
	g.Eventually(func(g gomega.Gomega) {
		for _, c := range comps {
			sec := getCurveSecret(ctx, g, z, c)
			g.Expect(metav1.IsControlledBy(sec, z)).To(gomega.BeTrue())
			g.Expect(sec.Labels).To(gomega.HaveKeyWithValue(render.LabelTopology, z.Name))
			pairs[c] = secretKeyPair(g, sec)
			versions[c] = sec.ResourceVersion
		}
	}).Should(gomega.Succeed())

	// Each component gets its own key, its servers' and its clients'.
	g.Eventually(func(g gomega.Gomega) {
		vent := getCurveKeys(ctx, g, z, "ventilator")
		g.Expect(vent).To(gomega.Equal(map[string]string{
			"ventilator": pairs["ventilator"].pub.String() + "\n",
			"worker":     pairs["worker"].pub.String() + "\n",
		}))
		worker := getCurveKeys(ctx, g, z, "worker")
		g.Expect(worker).To(gomega.Equal(map[string]string{
			"worker":     pairs["worker"].pub.String() + "\n",
			"ventilator": pairs["ventilator"].pub.String() + "\n",
			"sink":       pairs["sink"].pub.String() + "\n",
		}))
	}).Should(gomega.Succeed())

	markAllReady(ctx, g, z)
	eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionTrue, zmqv1.ReasonReady, "")

	// A drift repair reconciles again: the key pairs stay as they were.
	cm := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: zmqv1.CurveKeysConfigMapName(z.Name, "ventilator")}, cm)).To(gomega.Succeed())
	g.Expect(k8sClient.Delete(ctx, cm)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(getCurveKeys(ctx, g, z, "ventilator")).To(gomega.HaveKey("worker"))
	}).Should(gomega.Succeed())
	for _, c := range comps {
		g.Expect(getCurveSecret(ctx, g, z, c).ResourceVersion).To(gomega.Equal(versions[c]), "Secret of %s rewritten", c)
	}

	// The worker's pods mount the keys and are stamped with their digest.
	dep := &appsv1.Deployment{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pipeline-worker"}, dep)).To(gomega.Succeed())
	digest := dep.Spec.Template.Annotations[render.AnnotationCurveKeys]
	g.Expect(digest).NotTo(gomega.BeEmpty())
	vols := map[string]bool{}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		vols[v.Name] = true
	}
	g.Expect(vols).To(gomega.HaveKey("zmq-curve-key"))
	g.Expect(vols).To(gomega.HaveKey("zmq-curve-servers"))

	// Rotate the worker's key.
	oldWorker := pairs["worker"]
	sec := getCurveSecret(ctx, g, z, "worker")
	sec.Annotations = map[string]string{zmqv1.AnnotationRotate: "2026-11-30T09:00:00Z"}
	g.Expect(k8sClient.Update(ctx, sec)).To(gomega.Succeed())
	var newWorker keyPair
	g.Eventually(func(g gomega.Gomega) {
		sec := getCurveSecret(ctx, g, z, "worker")
		g.Expect(sec.Annotations).To(gomega.HaveKeyWithValue(zmqv1.AnnotationRotated, "2026-11-30T09:00:00Z"))
		newWorker = secretKeyPair(g, sec)
		g.Expect(string(sec.Data["previous-public-key"])).To(gomega.Equal(oldWorker.pub.String()))
	}).Should(gomega.Succeed())
	g.Expect(newWorker.pub.Equal(oldWorker.pub)).To(gomega.BeFalse())

	// Overlap: both worker keys are published to the ventilator and the
	// sink, and the worker's pods roll.
	var ventKeys map[string]string
	g.Eventually(func(g gomega.Gomega) {
		ventKeys = getCurveKeys(ctx, g, z, "ventilator")
		g.Expect(ventKeys).To(gomega.HaveKeyWithValue("worker", newWorker.pub.String()+"\n"))
		g.Expect(ventKeys).To(gomega.HaveKeyWithValue("worker.previous", oldWorker.pub.String()+"\n"))
		g.Expect(getCurveKeys(ctx, g, z, "sink")).To(gomega.HaveKeyWithValue("worker.previous", oldWorker.pub.String()+"\n"))
		d := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pipeline-worker"}, d)).To(gomega.Succeed())
		g.Expect(d.Spec.Template.Annotations[render.AnnotationCurveKeys]).NotTo(gomega.Equal(digest))
	}).Should(gomega.Succeed())

	// Real sockets on the published keys: the ventilator's PUSH server with
	// its allowed directory as projected, a worker PULL with the old key
	// and one with the new key both get messages during the overlap.
	dir := t.TempDir()
	clients := render.CurveClients(z, z.Component("ventilator"), "tasks")
	writeAllowedDir(t, dir, ventKeys, clients)
	vent := pairs["ventilator"]
	push, err := zmtp.NewSocket(zmtp.PUSH, zmtp.WithCurveServer(vent.sec), zmtp.WithCurveAuthorizer(zmqsocket.DirAuthorizer(dir)))
	g.Expect(err).NotTo(gomega.HaveOccurred())
	defer push.Close()
	ep, err := push.Bind("tcp://127.0.0.1:0")
	g.Expect(err).NotTo(gomega.HaveOccurred())
	pull := func(k keyPair) *zmtp.Socket {
		s, err := zmtp.NewSocket(zmtp.PULL, zmtp.WithCurveClient(vent.pub, k.pub, k.sec))
		g.Expect(err).NotTo(gomega.HaveOccurred())
		t.Cleanup(func() { _ = s.Close() })
		g.Expect(s.Connect(ep)).To(gomega.Succeed())
		return s
	}
	oldPull, newPull := pull(oldWorker), pull(newWorker)
	g.Eventually(func() int { return push.Stats().Peers }).Should(gomega.Equal(2))
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := 0; i < 4; i++ {
		g.Expect(push.Send(sctx, zmtp.NewMsgString("task"))).To(gomega.Succeed())
	}
	for _, p := range []*zmtp.Socket{oldPull, newPull} {
		m, err := p.Recv(sctx)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(string(m[0])).To(gomega.Equal("task"))
	}

	// The worker rolls: the overlap ends, the old key is dropped everywhere.
	markAllReady(ctx, g, z)
	g.Eventually(func(g gomega.Gomega) {
		sec := getCurveSecret(ctx, g, z, "worker")
		g.Expect(sec.Data).NotTo(gomega.HaveKey("previous-public-key"))
		g.Expect(secretKeyPair(g, sec).pub.Equal(newWorker.pub)).To(gomega.BeTrue())
		ventKeys = getCurveKeys(ctx, g, z, "ventilator")
		g.Expect(ventKeys).NotTo(gomega.HaveKey("worker.previous"))
		g.Expect(getCurveKeys(ctx, g, z, "sink")).NotTo(gomega.HaveKey("worker.previous"))
	}).Should(gomega.Succeed())
	writeAllowedDir(t, dir, ventKeys, clients)
	refused := push.Stats().AuthFailures
	late := pull(oldWorker)
	g.Eventually(func() uint64 { return push.Stats().AuthFailures }).Should(gomega.BeNumerically(">", refused))
	g.Consistently(func() int { return len(late.Peers()) }, "300ms").Should(gomega.Equal(0))

	// No secret key ever reached status or events.
	got := &zmqv1.ZMQTopology{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(z), got)).To(gomega.Succeed())
	status, _ := json.Marshal(got.Status)
	evs := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, evs, client.InNamespace(ns))).To(gomega.Succeed())
	all, _ := json.Marshal(evs)
	for c, p := range map[string]keyPair{"ventilator": pairs["ventilator"], "sink": pairs["sink"], "old worker": oldWorker, "new worker": newWorker} {
		for where, text := range map[string]string{"status": string(status), "events": string(all)} {
			g.Expect(strings.Contains(text, p.sec.Z85())).To(gomega.BeFalse(), "secret key of %s in %s", c, where)
		}
	}
	g.Expect(string(all)).To(gomega.ContainSubstring("CurveKeyRotated"))

	// Back to NULL: the key Secrets and the keys ConfigMaps go.
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(z), got)).To(gomega.Succeed())
	got.Spec.Security = nil
	g.Expect(k8sClient.Update(ctx, got)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		secs := &corev1.SecretList{}
		g.Expect(k8sClient.List(ctx, secs, client.InNamespace(ns), client.MatchingLabels{render.LabelTopology: z.Name})).To(gomega.Succeed())
		g.Expect(secs.Items).To(gomega.BeEmpty())
		cms := &corev1.ConfigMapList{}
		g.Expect(k8sClient.List(ctx, cms, client.InNamespace(ns), client.MatchingLabels{render.LabelTopology: z.Name})).To(gomega.Succeed())
		for _, cm := range cms.Items {
			g.Expect(cm.Name).NotTo(gomega.HaveSuffix("-curve-keys"))
		}
	}).Should(gomega.Succeed())
}
