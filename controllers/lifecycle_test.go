package controllers

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// TestReadinessFollowsWorkloads plays the workload controllers: Ready goes
// False -> True -> False as replicas become ready and unready, the reason
// naming the component, and observedGeneration follows spec changes.
func TestReadinessFollowsWorkloads(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_pubsub.yaml", ns)
	// As `kubectl apply` (client-side) creates it: with its copy of the
	// object in an annotation, which the operator's cache leaves out.
	z.Annotations = map[string]string{lastAppliedAnnotation: `{"kind":"ZMQTopology"}`}
	g.Expect(k8sClient.Create(ctx, z, client.FieldOwner("kubectl-client-side-apply"))).To(gomega.Succeed())
	key := client.ObjectKeyFromObject(z)

	eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "component events")

	markAllReady(ctx, g, z)
	got := eventuallyReady(ctx, g, key, metav1.ConditionTrue, zmqv1.ReasonReady, "5 components and 4 links ready")
	g.Expect(got.Status.ComponentsReady).To(gomega.Equal("5/5"))
	g.Expect(got.Status.LinksReady).To(gomega.Equal("4/4"))
	g.Expect(got.Status.Patterns).To(gomega.Equal("PUB-XSUB,XPUB-SUB"))
	g.Expect(meta.IsStatusConditionFalse(got.Status.Conditions, zmqv1.ConditionProgressing)).To(gomega.BeTrue())
	g.Expect(meta.IsStatusConditionFalse(got.Status.Conditions, zmqv1.ConditionDegraded)).To(gomega.BeTrue())
	g.Expect(got.Status.Components[0].Endpoints).To(gomega.Equal([]string{
		"frontend=tcp://pubsub-events-0.pubsub-events-headless." + ns + ".svc.cluster.local:5559",
		"frontend=tcp://pubsub-events-1.pubsub-events-headless." + ns + ".svc.cluster.local:5559",
		"backend=tcp://pubsub-events-0.pubsub-events-headless." + ns + ".svc.cluster.local:5560",
		"backend=tcp://pubsub-events-1.pubsub-events-headless." + ns + ".svc.cluster.local:5560",
	}))
	readySince := meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionReady).LastTransitionTime
	// The cache's copies leave out the annotation and the managed fields
	// (slimTopology); the API server still has them after the status
	// patches.
	g.Expect(got.Annotations).To(gomega.HaveKeyWithValue(lastAppliedAnnotation, `{"kind":"ZMQTopology"}`))
	g.Expect(got.ManagedFields).To(gomega.ContainElements(
		gomega.HaveField("Manager", "kubectl-client-side-apply"),
		gomega.HaveField("Subresource", "status")))
	cached := &zmqv1.ZMQTopology{}
	g.Expect(managerCache.Get(ctx, key, cached)).To(gomega.Succeed())
	g.Expect(cached.Annotations).NotTo(gomega.HaveKey(lastAppliedAnnotation))
	g.Expect(cached.ManagedFields).To(gomega.BeEmpty())

	// A dashboard replica becomes unready.
	markDeploymentReady(ctx, g, ns, "pubsub-dashboard", 1)
	got = eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "component dashboard: 1/2 replicas ready")
	g.Expect(got.Status.ComponentsReady).To(gomega.Equal("4/5"))
	g.Expect(got.Status.LinksReady).To(gomega.Equal("3/4"))
	degraded := meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionDegraded)
	g.Expect(degraded.Status).To(gomega.Equal(metav1.ConditionTrue))
	g.Expect(degraded.Reason).To(gomega.Equal(zmqv1.ReasonReplicasUnavailable))
	g.Expect(meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionReady).LastTransitionTime.After(readySince.Time) ||
		meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionReady).LastTransitionTime.Equal(&readySince)).To(gomega.BeTrue())

	markDeploymentReady(ctx, g, ns, "pubsub-dashboard", 2)
	eventuallyReady(ctx, g, key, metav1.ConditionTrue, zmqv1.ReasonReady, "")

	// A spec change: the new generation is observed, and the scaled
	// component is rolling out until its workload catches up.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	gen := z.Generation
	z.Spec.Components[3].Replicas = ptr.To[int32](3) // dashboard
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Expect(z.Generation).To(gomega.Equal(gen + 1))
	got = eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "component dashboard: rolling out")
	g.Expect(got.Status.ObservedGeneration).To(gomega.Equal(gen + 1))
	g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, zmqv1.ConditionProgressing)).To(gomega.BeTrue())
	markDeploymentReady(ctx, g, ns, "pubsub-dashboard", 3)
	eventuallyReady(ctx, g, key, metav1.ConditionTrue, zmqv1.ReasonReady, "")

	// Scaling the Forwarder gives subscribers a third endpoint.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[0].Replicas = ptr.To[int32](3)
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pubsub-audit"}, d)).To(gomega.Succeed())
		g.Expect(envOf(d.Spec.Template, "ZMQ_IN_ENDPOINTS")).To(gomega.HaveSuffix("pubsub-events-2.pubsub-events-headless." + ns + ".svc.cluster.local:5560"))
	}).Should(gomega.Succeed())
}

// TestInvalidSpec checks the controller's backstop for graph errors that
// reach it despite the webhook (topologies stored before the webhook was
// installed; here: in a namespace the test webhook skips): each is reported
// as Ready=False, reason InvalidSpec, with the field path, and an invalid
// update of a running topology leaves its children untouched.
// TestWebhookRefusesGraphErrors checks that the webhook refuses the same
// cases at admission.
func TestInvalidSpec(t *testing.T) {
	ctx, _ := envtestOnly(t)
	ns := newUnguardedNamespace(ctx, t)

	for i, tc := range []struct {
		name   string
		mutate func(z *zmqv1.ZMQTopology)
		want   string
	}{
		{"connect to a missing component", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Sockets[0].Connect.Component = "ghost" },
			`spec.components[1].sockets[0].connect.component: Not found: "ghost"`},
		{"connect to a missing socket", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Sockets[0].Connect.Socket = "nope" },
			`spec.components[1].sockets[0].connect.socket: Invalid value: "nope": component "ventilator" has no socket named "nope"`},
		{"incompatible socket types", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Sockets[0].Type = zmqv1.SUB },
			`spec.components[1].sockets[0].type: Invalid value: "SUB": a SUB socket cannot connect to ventilator/tasks of type PUSH`},
		{"two sockets bind one port", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[2].Sockets = append(z.Spec.Components[2].Sockets, zmqv1.Socket{Name: "ctl", Type: zmqv1.REP, Bind: &zmqv1.BindSpec{Port: 5558}})
		}, `spec.components[2].sockets[1].bind.port: Duplicate value: "5558 (already bound by socket \"results\")"`},
		{"device with the wrong socket types", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[2].Template = nil
			z.Spec.Components[2].Device = &zmqv1.DeviceSpec{Type: zmqv1.Forwarder}
			z.Spec.Components[2].Sockets[0].Name = "frontend"
			z.Spec.Components[1].Sockets[1].Connect.Socket = "frontend"
		}, `spec.components[2].sockets[0].type: Invalid value: "PULL": the frontend socket of a Forwarder device must be XSUB`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGomega(t)
			z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
			z.Name = fmt.Sprintf("invalid-%d", i)
			tc.mutate(z)
			g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
			got := eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionFalse, zmqv1.ReasonInvalidSpec, tc.want)
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, zmqv1.ConditionDegraded)).To(gomega.BeTrue())
			g.Expect(childVersions(ctx, t, z)).To(gomega.BeEmpty(), "an invalid topology must create nothing")
			g.Eventually(func() []string { return eventReasons(ctx, g, z) }).Should(gomega.ContainElement(zmqv1.ReasonInvalidSpec))
		})
	}

	t.Run("invalid update leaves running children untouched", func(t *testing.T) {
		g := newGomega(t)
		z, before := runningPipeline(ctx, t, g, ns)
		key := client.ObjectKeyFromObject(z)

		// Break the graph and, in the same edit, remove a component and
		// scale another: none of it may reach the children.
		g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
		z.Spec.Components[1].Sockets[1].Connect.Component = "ghost"
		z.Spec.Components[1].Replicas = ptr.To[int32](7)
		z.Spec.Components = z.Spec.Components[:2]
		g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
		got := eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonInvalidSpec, "spec.components[1].sockets[1].connect.component")
		g.Expect(got.Status.ComponentsReady).To(gomega.Equal("3/3"), "status keeps describing what runs")
		g.Consistently(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.Equal(before))

		// Fixing the spec applies the intended change.
		g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
		z.Spec.Components[1].Sockets = z.Spec.Components[1].Sockets[:1]
		g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
		g.Eventually(func() map[string]string { return childVersions(ctx, t, z) }).ShouldNot(gomega.HaveKey("Deployment/pipeline-sink"))
		d := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pipeline-worker"}, d)).To(gomega.Succeed())
		g.Expect(*d.Spec.Replicas).To(gomega.Equal(int32(7)))
	})
}

// TestDriftPruneAndPause checks that a deleted Service and an edited
// Deployment are restored, that removing a component deletes its children,
// and that paused topologies are left alone.
func TestDriftPruneAndPause(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_reqrep.yaml", ns)
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	key := client.ObjectKeyFromObject(z)
	g.Eventually(func() int { return len(childVersions(ctx, t, z)) }).Should(gomega.Equal(12))

	// A deleted Service comes back.
	svc := &corev1.Service{}
	svcKey := client.ObjectKey{Namespace: ns, Name: "reqrep-broker"}
	g.Expect(k8sClient.Get(ctx, svcKey, svc)).To(gomega.Succeed())
	oldUID := svc.UID
	g.Expect(k8sClient.Delete(ctx, svc)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(k8sClient.Get(ctx, svcKey, svc)).To(gomega.Succeed())
		g.Expect(svc.UID).NotTo(gomega.Equal(oldUID))
	}).Should(gomega.Succeed())

	// An edited Deployment is put back: image, replicas and the injected
	// endpoints, edited as `kubectl edit` would (an update by another field
	// manager).
	depKey := client.ObjectKey{Namespace: ns, Name: "reqrep-server"}
	editDeployment(ctx, g, depKey, func(d *appsv1.Deployment) {
		d.Spec.Replicas = ptr.To[int32](1)
		d.Spec.Template.Spec.Containers[0].Image = "evil:latest"
		for i, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "ZMQ_REQUESTS_ENDPOINTS" {
				d.Spec.Template.Spec.Containers[0].Env[i].Value = "tcp://elsewhere:1"
			}
		}
	})
	g.Eventually(func(g gomega.Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(ctx, depKey, d)).To(gomega.Succeed())
		g.Expect(*d.Spec.Replicas).To(gomega.Equal(int32(3)))
		g.Expect(d.Spec.Template.Spec.Containers[0].Image).To(gomega.Equal("zmq-operator-examples:dev"))
		g.Expect(envOf(d.Spec.Template, "ZMQ_REQUESTS_ENDPOINTS")).To(gomega.Equal("tcp://reqrep-broker." + ns + ".svc.cluster.local:5571"))
	}).Should(gomega.Succeed())

	// Drift the cache cannot see in full (it keeps no ConfigMap data, no
	// Service or NetworkPolicy spec, changedetect.go) is put back too: an
	// edited ConfigMap, a label removed from a Service, and a
	// NetworkPolicy's rules taken over by another applier that keeps the
	// applied-hash annotation as it was.
	cmKey := client.ObjectKey{Namespace: ns, Name: "reqrep-server-zmq"}
	cm := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(ctx, cmKey, cm)).To(gomega.Succeed())
	wantData := maps.Clone(cm.Data)
	for k := range cm.Data {
		cm.Data[k] = "{}"
	}
	g.Expect(k8sClient.Update(ctx, cm, client.FieldOwner("kubectl-edit"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(k8sClient.Get(ctx, cmKey, cm)).To(gomega.Succeed())
		g.Expect(cm.Data).To(gomega.Equal(wantData))
	}).Should(gomega.Succeed())

	g.Expect(k8sClient.Get(ctx, svcKey, svc)).To(gomega.Succeed())
	delete(svc.Labels, render.LabelName)
	g.Expect(k8sClient.Update(ctx, svc, client.FieldOwner("kubectl-edit"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(k8sClient.Get(ctx, svcKey, svc)).To(gomega.Succeed())
		g.Expect(svc.Labels).To(gomega.HaveKeyWithValue(render.LabelName, "broker"))
	}).Should(gomega.Succeed())

	npKey := client.ObjectKey{Namespace: ns, Name: "reqrep-server"}
	np := &networkingv1.NetworkPolicy{}
	g.Expect(k8sClient.Get(ctx, npKey, np)).To(gomega.Succeed())
	wantIngress := np.Spec.Ingress
	other := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": npKey.Name, "namespace": ns,
			"annotations": map[string]any{
				render.AnnotationAppliedHash:   np.Annotations[render.AnnotationAppliedHash],
				render.AnnotationAppliedFields: np.Annotations[render.AnnotationAppliedFields],
			}},
		"spec": map[string]any{"podSelector": map[string]any{}, "ingress": []any{map[string]any{}}},
	}}
	g.Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(other), client.FieldOwner("someone-else"), client.ForceOwnership)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(k8sClient.Get(ctx, npKey, np)).To(gomega.Succeed())
		g.Expect(np.Spec.Ingress).To(gomega.Equal(wantIngress))
		g.Expect(np.Spec.PodSelector.MatchLabels).NotTo(gomega.BeEmpty())
	}).Should(gomega.Succeed())

	// Removing a component deletes its children (and only those).
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components = z.Spec.Components[:2] // drop "server"
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Eventually(func() []string { return keys(childVersions(ctx, t, z)) }).Should(gomega.ConsistOf(
		"NetworkPolicy/reqrep-broker", "NetworkPolicy/reqrep-client",
		"ConfigMap/reqrep-broker-zmq", "ConfigMap/reqrep-client-zmq", "Service/reqrep-broker",
		"PodDisruptionBudget/reqrep-client", "Deployment/reqrep-broker", "Deployment/reqrep-client"))
	g.Eventually(func() []string { return eventReasons(ctx, g, z) }).Should(gomega.ContainElements("Created", "Updated", "Deleted"))

	// Paused: neither drift repair, nor spec changes, nor pruning.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Paused = true
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
		c := meta.FindStatusCondition(z.Status.Conditions, zmqv1.ConditionProgressing)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Reason).To(gomega.Equal(zmqv1.ReasonPaused))
		g.Expect(c.ObservedGeneration).To(gomega.Equal(z.Generation))
	}).Should(gomega.Succeed())
	before := childVersions(ctx, t, z)
	z.Spec.Components = z.Spec.Components[:1]        // would prune the client
	z.Spec.Components[0].Replicas = ptr.To[int32](2) // would turn the broker into a StatefulSet
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Expect(k8sClient.Get(ctx, svcKey, svc)).To(gomega.Succeed())
	g.Expect(k8sClient.Delete(ctx, svc)).To(gomega.Succeed())
	delete(before, "Service/reqrep-broker")
	g.Consistently(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.Equal(before))

	// Unpausing applies everything at once.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Paused = false
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Eventually(func() []string { return keys(childVersions(ctx, t, z)) }).Should(gomega.ConsistOf(
		"NetworkPolicy/reqrep-broker", "ConfigMap/reqrep-broker-zmq", "Service/reqrep-broker", "Service/reqrep-broker-headless",
		"PodDisruptionBudget/reqrep-broker", "StatefulSet/reqrep-broker"))
}

// TestNoOpReconcileWritesNothing checks that reconciling a topology whose
// children and status are current sends no write request at all.
func TestNoOpReconcileWritesNothing(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	for _, s := range samples {
		z := loadSample(t, s.file, ns)
		g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
		g.Eventually(func() int { return len(childVersions(ctx, t, z)) }).Should(gomega.BeNumerically(">", 0))
		markAllReady(ctx, g, z)
		eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionTrue, zmqv1.ReasonReady, "")
	}

	// The running manager settles: no writes while nothing changes.
	g.Eventually(func() int64 {
		before := managerWrites.Load()
		time.Sleep(time.Second)
		return managerWrites.Load() - before
	}).Should(gomega.BeZero())

	// A reconcile of each unchanged topology, through a client that counts
	// every request it sends, writes nothing.
	var writes atomic.Int64
	cfg := rest.CopyConfig(testEnv.Config)
	cfg.Wrap(countWrites(&writes))
	c, err := client.New(cfg, client.Options{Scheme: testScheme})
	g.Expect(err).NotTo(gomega.HaveOccurred())
	r := &ZMQTopologyReconciler{Client: c, Unlabelled: c, Recorder: events.NewFakeRecorder(100), Render: renderOpts}
	for _, s := range samples {
		z := loadSample(t, s.file, ns)
		for i := 0; i < 2; i++ {
			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: z.Name}})
			g.Expect(err).NotTo(gomega.HaveOccurred())
		}
	}
	g.Expect(writes.Load()).To(gomega.BeZero(), "write requests sent by no-op reconciles")

	// As after a restart: a reconciler reading from a new cache, filled by
	// its first list (through the cache transforms), writes nothing either.
	cached, err := cache.New(cfg, cache.Options{Scheme: testScheme, ByObject: CacheOptions().ByObject})
	g.Expect(err).NotTo(gomega.HaveOccurred())
	cctx, stopCache := context.WithCancel(ctx)
	defer stopCache()
	go func() { _ = cached.Start(cctx) }()
	// Start runs in the background; reads before it has begun fail with
	// ErrCacheNotStarted, so wait for it (WaitForCacheSync waits for Start).
	g.Expect(cached.WaitForCacheSync(cctx)).To(gomega.BeTrue())
	cc, err := client.New(cfg, client.Options{Scheme: testScheme, Cache: &client.CacheOptions{Reader: cached}})
	g.Expect(err).NotTo(gomega.HaveOccurred())
	r = &ZMQTopologyReconciler{Client: cc, Unlabelled: c, Recorder: events.NewFakeRecorder(100), Render: renderOpts}
	for _, s := range samples {
		z := loadSample(t, s.file, ns)
		_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: z.Name}})
		g.Expect(err).NotTo(gomega.HaveOccurred())
	}
	g.Expect(writes.Load()).To(gomega.BeZero(), "write requests sent by no-op reconciles from a new cache")

	// The instrument sees writes: one request through the same client.
	g.Expect(c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}})).To(gomega.Succeed())
	g.Expect(writes.Load()).To(gomega.Equal(int64(1)))
}

func editDeployment(ctx context.Context, g gomega.Gomega, key client.ObjectKey, edit func(*appsv1.Deployment)) {
	g.Eventually(func() error {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, key, d); err != nil {
			return err
		}
		edit(d)
		return k8sClient.Update(ctx, d, client.FieldOwner("kubectl-edit"))
	}).Should(gomega.Succeed())
}

func envOf(tpl corev1.PodTemplateSpec, name string) string {
	for _, e := range tpl.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// eventReasons lists the reasons of the events recorded on a topology.
func eventReasons(ctx context.Context, g gomega.Gomega, z *zmqv1.ZMQTopology) []string {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(z.Namespace))).To(gomega.Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == z.Name && e.Regarding.Kind == "ZMQTopology" {
			out = append(out, e.Reason)
		}
	}
	return out
}

// TestForeignObjectIsNotTakenOver checks that an existing object with a
// child's name, which the topology does not control, is reported (the name
// is refused: InvalidSpec, Stalled) and left alone rather than overwritten,
// and that no other child is created meanwhile (all or nothing).
func TestForeignObjectIsNotTakenOver(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	foreign := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reqrep-client-zmq"},
		Data:       map[string]string{"mine": "yes"},
	}
	g.Expect(k8sClient.Create(ctx, foreign)).To(gomega.Succeed())
	z := loadSample(t, "zmq_v1alpha1_reqrep.yaml", ns)
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	got := eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionFalse, zmqv1.ReasonInvalidSpec,
		"spec.components[1].name: Invalid value: ConfigMap reqrep-client-zmq already exists and is not controlled by this topology")
	g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, zmqv1.ConditionStalled)).To(gomega.BeTrue())
	g.Consistently(func(g gomega.Gomega) {
		got := &corev1.ConfigMap{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), got)).To(gomega.Succeed())
		g.Expect(got.Data).To(gomega.Equal(map[string]string{"mine": "yes"}))
		g.Expect(got.OwnerReferences).To(gomega.BeEmpty())
		g.Expect(childVersions(ctx, t, z)).To(gomega.BeEmpty(), "no other child is created while one is refused")
	}).Should(gomega.Succeed())

	// Once the name is free, the topology converges.
	g.Expect(k8sClient.Delete(ctx, foreign)).To(gomega.Succeed())
	eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "")
}
