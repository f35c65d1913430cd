package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/internal/agentstub"
	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
)

// stubPod is a Pod object of a topology's component, running and ready at
// a loopback address where a stub agent serves its /status: envtest has no
// kubelet, so the test plays it, and the manager's real poller polls the
// stub over real HTTP.
type stubPod struct {
	pod   *corev1.Pod
	agent *agentstub.Agent
}

// startStubPod starts a stub agent on ip and creates its running Pod.
func startStubPod(ctx context.Context, t *testing.T, g gomega.Gomega, z *zmqv1.ZMQTopology, component, name, ip string, doc agentstatus.Document) *stubPod {
	t.Helper()
	a, err := agentstub.Start(ip, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	a.Set(doc)
	_, port, _ := net.SplitHostPort(a.Addr)
	p, _ := strconv.Atoi(port)
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: z.Namespace, Name: name, Labels: render.SelectorLabels(z, z.Component(component))},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: render.SidecarContainer, Image: "zmq-sidecar:test", RestartPolicy: &always,
				Ports: []corev1.ContainerPort{{Name: render.SidecarPortName, ContainerPort: int32(p)}}}},
			Containers: []corev1.Container{{Name: "app", Image: "app:1"}},
		},
	}
	g.Expect(k8sClient.Create(ctx, pod)).To(gomega.Succeed())
	t.Cleanup(func() {
		_ = k8sClient.Delete(context.Background(), pod, client.GracePeriodSeconds(0))
	})
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
	g.Expect(k8sClient.Status().Update(ctx, pod)).To(gomega.Succeed())
	return &stubPod{pod: pod, agent: a}
}

// boundDoc is the document of a component that only binds.
func boundDoc(z *zmqv1.ZMQTopology, component, pod string) agentstatus.Document {
	c := z.Component(component)
	doc := agentstatus.Document{APIVersion: agentstatus.APIVersion, Topology: z.Name, Namespace: z.Namespace, Component: component, Pod: pod}
	for _, s := range c.Sockets {
		doc.Sockets = append(doc.Sockets, agentstatus.Socket{Name: s.Name, Type: string(s.Type), Bind: true, Port: s.Bind.Port,
			Listener: &agentstatus.Probe{Probed: true, Up: true, HandshakeMicros: 300, PeerSocketType: string(s.Type), ZMTPVersion: "3.1"}})
	}
	return doc
}

// writesIn lists the manager's writes to objects of namespace ns since a
// time.
func writesIn(ns string, since time.Time) []loggedWrite {
	var out []loggedWrite
	for _, prefix := range []string{"/api/v1/namespaces/" + ns + "/", "/apis/apps/v1/namespaces/" + ns + "/", "/apis/zmq.topology.dev/v1alpha1/namespaces/" + ns + "/"} {
		out = append(out, managerWriteLog.under(prefix, since)...)
	}
	return out
}

// TestLinkHealthFromSidecars runs the pipeline sample with a running pod
// per replica, each with a stub agent on its own loopback address: the
// manager's poller polls them, status.links counts connections, a steady
// topology costs no write over 3 polls, a worker that cannot reach the
// ventilator turns the link down (LINKS 1/2, Ready and Degraded LinkDown
// naming the pod pair, zmq_operator_link_up 0), and recovery returns it to
// Ready; deleting the topology removes its link series.
func TestLinkHealthFromSidecars(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z, _ := runningPipeline(ctx, t, g, ns)
	key := client.ObjectKeyFromObject(z)

	// Addresses 127.<r>.<r>.1..5, random per run so that concurrent runs on
	// the machine do not collide.
	base := fmt.Sprintf("127.%d.%d.", 1+rand.IntN(250), 1+rand.IntN(250))
	up := []int64{101}
	stubs := []*stubPod{
		startStubPod(ctx, t, g, z, "ventilator", "pipeline-ventilator-6d4f-a", base+"1", boundDoc(z, "ventilator", "pipeline-ventilator-6d4f-a")),
		startStubPod(ctx, t, g, z, "sink", "pipeline-sink-59c1-b", base+"2", boundDoc(z, "sink", "pipeline-sink-59c1-b")),
	}
	var workers []*stubPod
	for i := range 3 {
		name := fmt.Sprintf("pipeline-worker-7c9f-%d", i)
		workers = append(workers, startStubPod(ctx, t, g, z, "worker", name, base+strconv.Itoa(3+i), *workerDoc(z, name, up, "")))
	}
	stubs = append(stubs, workers...)

	tasks := zmqv1.LinkStatus{From: "worker/tasks", To: "ventilator/tasks", Pattern: "PUSH-PULL", Ready: true,
		ExpectedConnections: 3, ConnectionsUp: 3, RTTP50Micros: 200, RTTMaxMicros: 200}
	g.Eventually(func(g gomega.Gomega) {
		_, got := readyCondition(ctx, g, key)
		g.Expect(got.Status.Links).To(gomega.HaveLen(2))
		g.Expect(got.Status.Links[0]).To(gomega.Equal(tasks))
		g.Expect(got.Status.Links[1].ConnectionsUp).To(gomega.Equal(int32(3)))
		g.Expect(got.Status.LinksReady).To(gomega.Equal("2/2"))
	}).Should(gomega.Succeed())
	eventuallyReady(ctx, g, key, metav1.ConditionTrue, zmqv1.ReasonReady, "")

	// Steady: RTTs move inside their bucket; over 3 polls of every pod the
	// manager writes nothing.
	time.Sleep(linkPollPeriod) // any reconcile under way ends
	since := time.Now()
	before := make([]int64, len(stubs))
	for i, s := range stubs {
		before[i] = s.agent.Requests()
	}
	for i, w := range workers {
		w.agent.Set(*workerDoc(z, w.pod.Name, []int64{150 + int64(10*i)}, ""))
	}
	g.Eventually(func() bool {
		for i, s := range stubs {
			if s.agent.Requests() < before[i]+3 {
				return false
			}
		}
		return true
	}).Should(gomega.BeTrue())
	if w := writesIn(ns, since); len(w) != 0 {
		t.Errorf("a steady topology cost %d writes over 3 polls: %+v", len(w), w)
	}
	t.Logf("steady: 0 writes while every pod was polled 3 times (%s)", time.Since(since).Round(time.Millisecond))

	// Worker 2 cannot reach the ventilator any more.
	broken := time.Now()
	workers[2].agent.Set(*workerDoc(z, workers[2].pod.Name, []int64{-1}, refused))
	pair := "pipeline-worker-7c9f-2 -> pipeline-ventilator: connection refused"
	g.Eventually(func(g gomega.Gomega) {
		_, got := readyCondition(ctx, g, key)
		g.Expect(got.Status.LinksReady).To(gomega.Equal("1/2"))
		deg := meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionDegraded)
		g.Expect(deg.Status).To(gomega.Equal(metav1.ConditionTrue))
		g.Expect(deg.Reason).To(gomega.Equal(zmqv1.ReasonLinkDown))
		g.Expect(deg.Message).To(gomega.ContainSubstring(pair))
		g.Expect(got.Status.Links[0].ConnectionsUp).To(gomega.Equal(int32(2)))
		g.Expect(got.Status.Links[0].Reason).To(gomega.Equal(pair))
	}).Should(gomega.Succeed())
	t.Logf("LinkDown in status %s after the break (poll period %s)", time.Since(broken).Round(time.Millisecond), linkPollPeriod)
	eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonLinkDown, pair)

	reg := prometheus.NewPedanticRegistry()
	g.Expect(reg.Register(NewTopologyCollector(k8sClient))).To(gomega.Succeed())
	series := func(name string, labels map[string]string) []float64 {
		families, err := reg.Gather()
		g.Expect(err).NotTo(gomega.HaveOccurred())
		var out []float64
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				if labelsMatch(m, labels) {
					out = append(out, m.GetGauge().GetValue())
				}
			}
		}
		return out
	}
	link := map[string]string{"namespace": ns, "topology": "pipeline", "link": "worker/tasks -> ventilator/tasks"}
	g.Expect(series("zmq_operator_link_up", link)).To(gomega.Equal([]float64{0}))
	g.Expect(series("zmq_operator_link_connections", map[string]string{"namespace": ns, "topology": "pipeline", "link": "worker/tasks -> ventilator/tasks", "state": "expected"})).To(gomega.Equal([]float64{3}))
	g.Expect(series("zmq_operator_link_connections", map[string]string{"namespace": ns, "topology": "pipeline", "link": "worker/tasks -> ventilator/tasks", "state": "up"})).To(gomega.Equal([]float64{2}))

	// Recovery.
	workers[2].agent.Set(*workerDoc(z, workers[2].pod.Name, up, ""))
	eventuallyReady(ctx, g, key, metav1.ConditionTrue, zmqv1.ReasonReady, "")
	_, got := readyCondition(ctx, g, key)
	if deg := meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionDegraded); deg.Status != metav1.ConditionFalse {
		t.Errorf("Degraded after recovery: %+v", deg)
	}
	g.Expect(series("zmq_operator_link_up", link)).To(gomega.Equal([]float64{1}))

	// A worker's pod goes (its Deployment still counts 3 ready, as for the
	// moment before the ReplicaSet replaces it): its connections are not
	// counted up any more, nor down: not known, and the link stays ready.
	g.Expect(k8sClient.Delete(ctx, workers[0].pod, client.GracePeriodSeconds(0))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		_, got := readyCondition(ctx, g, key)
		g.Expect(got.Status.Links[0].ConnectionsUp).To(gomega.Equal(int32(2)))
		g.Expect(got.Status.Links[0].ExpectedConnections).To(gomega.Equal(int32(3)))
		g.Expect(got.Status.Links[0].Ready).To(gomega.BeTrue())
		g.Expect(got.Status.Links[0].Reason).To(gomega.BeEmpty())
	}).Should(gomega.Succeed())
	// And the poller forgot it: its sidecar is polled no more, and the
	// poller's pod source no longer lists it.
	time.Sleep(linkPollPeriod) // a poll handed out before the pod went ends
	polled := workers[0].agent.Requests()
	time.Sleep(3 * linkPollPeriod)
	g.Expect(workers[0].agent.Requests()).To(gomega.Equal(polled), "polls of a deleted pod's sidecar")
	listed, err := linkPods(ctx)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	for _, p := range listed {
		g.Expect(p.Name).NotTo(gomega.Equal(workers[0].pod.Name), "a deleted pod still listed")
	}

	// The topology goes: so do its link series.
	g.Expect(k8sClient.Delete(ctx, z)).To(gomega.Succeed())
	g.Eventually(func() []float64 { return series("zmq_operator_link_up", link) }).Should(gomega.BeEmpty())
	if strings.Contains(fmt.Sprint(series("zmq_operator_link_connections", map[string]string{"namespace": ns})), "3") {
		t.Error("link connection series of a deleted topology remain")
	}
}
