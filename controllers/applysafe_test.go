package controllers

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// childPaths are the URL path prefixes of a namespace's objects of every
// child kind (not its events).
func childPaths(ns string) []string {
	return []string{
		"/api/v1/namespaces/" + ns + "/configmaps", "/api/v1/namespaces/" + ns + "/services",
		"/apis/apps/v1/namespaces/" + ns + "/deployments", "/apis/apps/v1/namespaces/" + ns + "/statefulsets",
		"/apis/policy/v1/namespaces/" + ns + "/poddisruptionbudgets", "/apis/networking.k8s.io/v1/namespaces/" + ns + "/networkpolicies",
	}
}

// TestRefusedUpdateTouchesNothing is example 7 of issue 9: an update that
// renames a socket (which rewrites both ConfigMaps, the sink's Service and
// both Deployments) while also giving the sink's container a probe without
// a handler, which only the API server's validation of the Deployment
// refuses. Every child is dry-run first, so nothing is written; status
// names the spec field and quotes the API server; fixing the spec applies
// the whole change.
func TestRefusedUpdateTouchesNothing(t *testing.T) {
	ctx, g := envtestOnly(t)
	z, _ := runningPipeline(ctx, t, g, newNamespace(ctx, t))
	key := client.ObjectKeyFromObject(z)
	before := childVersions(ctx, t, z)
	since := time.Now()

	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[2].Sockets[0].Name = "outcome"
	z.Spec.Components[1].Sockets[1].Connect.Socket = "outcome"
	z.Spec.Components[2].Template.Spec.Containers[0].LivenessProbe = &corev1.Probe{PeriodSeconds: 5}
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())

	got := eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonInvalidSpec,
		"invalid spec (children left unchanged): spec.components[2].template.spec.containers[0].livenessProbe: Invalid value: "+
			"Deployment pipeline-sink refused by the API server: spec.template.spec.containers[0].livenessProbe: Required value: must specify a handler type")
	stalled := meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionStalled)
	g.Expect(stalled).NotTo(gomega.BeNil())
	g.Expect(stalled.Status).To(gomega.Equal(metav1.ConditionTrue))
	g.Expect(stalled.Reason).To(gomega.Equal(zmqv1.ReasonInvalidSpec))
	g.Expect(meta.IsStatusConditionFalse(got.Status.Conditions, zmqv1.ConditionReconciling)).To(gomega.BeTrue())
	g.Expect(got.Status.ComponentsReady).To(gomega.Equal("3/3"), "status keeps describing what runs")
	g.Expect(kstatusOf(ctx, g, key)).To(gomega.Equal(kstatus.FailedStatus))
	g.Eventually(func() []string { return eventReasons(ctx, g, z) }).Should(gomega.ContainElement(zmqv1.ReasonInvalidSpec))

	g.Consistently(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.Equal(before))
	var dryRuns int
	for _, p := range childPaths(z.Namespace) {
		for _, w := range managerWriteLog.under(p, since) {
			g.Expect(w.dryRun).To(gomega.BeTrue(), "%s %s was written", w.method, w.path)
			dryRuns++
		}
	}
	// At least the sink's ConfigMap, Service and Deployment change.
	g.Expect(dryRuns).To(gomega.BeNumerically(">=", 3))
	t.Logf("%d dry runs, 0 writes", dryRuns)

	// Fixing the probe applies the whole change.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[2].Template.Spec.Containers[0].LivenessProbe = nil
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		svc := &corev1.Service{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: z.Namespace, Name: "pipeline-sink"}, svc)).To(gomega.Succeed())
		g.Expect(svc.Spec.Ports[0].Name).To(gomega.Equal("outcome"))
	}).Should(gomega.Succeed())
	eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "rolling out")
}

// TestRefusedCreationStartsNothing: a new topology whose sink Deployment
// only a ValidatingAdmissionPolicy refuses. While a topology is created
// only its workloads are dry-run (dryRunPlan), before anything is written:
// the refusal is reported as InvalidSpec at the component, and no child
// at all is created, so no pod of the refused spec starts.
func TestRefusedCreationStartsNothing(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	installFreezePolicy(ctx, t, g, ns)
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
	z.Spec.Components[2].Template.Annotations = map[string]string{frozenAnnotation: "true"}
	since := time.Now()
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	key := client.ObjectKeyFromObject(z)
	got := eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonInvalidSpec,
		"spec.components[2]: Invalid value: Deployment pipeline-sink refused by the API server: ")
	g.Expect(meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionReady).Message).To(gomega.ContainSubstring("frozen by policy"))
	g.Consistently(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.BeEmpty())
	var dryRuns int
	for _, p := range childPaths(ns) {
		for _, w := range managerWriteLog.under(p, since) {
			g.Expect(w.dryRun).To(gomega.BeTrue(), "%s %s was written", w.method, w.path)
			dryRuns++
		}
	}
	g.Expect(dryRuns).To(gomega.BeNumerically(">=", 3), "the three Deployments are dry-run")
}

// TestRefusedChildBacksOff: a Deployment refused by a ValidatingAdmissionPolicy
// (which no admission rule of the topology can foresee) is tried at most
// once per backoff period (1 s, 2 s, 4 s...), while a watch event on another
// child triggers a reconcile every 100 ms. Before the backoff, every one of
// those reconciles sent the refused write again.
func TestRefusedChildBacksOff(t *testing.T) {
	ctx, g := envtestOnly(t)
	z, _ := runningPipeline(ctx, t, g, newNamespace(ctx, t))
	key := client.ObjectKeyFromObject(z)
	ns := z.Namespace
	installFreezePolicy(ctx, t, g, ns)
	before := childVersions(ctx, t, z)

	since := time.Now()
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[1].Replicas = ptr.To[int32](4)
	z.Spec.Components[2].Template.Annotations = map[string]string{frozenAnnotation: "true"}
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	got := eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonInvalidSpec,
		"spec.components[2]: Invalid value: Deployment pipeline-sink refused by the API server: ")
	g.Expect(meta.FindStatusCondition(got.Status.Conditions, zmqv1.ConditionReady).Message).To(gomega.ContainSubstring("frozen by policy"))
	g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, zmqv1.ConditionStalled)).To(gomega.BeTrue())

	// Another child changes every 100 ms for 10 s, each change a watch
	// event and a reconcile.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pipeline-ventilator-zmq"}}
	window := 10 * time.Second
	touches := 0
	for end := time.Now().Add(window); time.Now().Before(end); touches++ {
		patch := fmt.Sprintf(`{"metadata":{"labels":{"touched":"%d"}}}`, touches)
		g.Expect(k8sClient.Patch(ctx, cm, client.RawPatch(types.MergePatchType, []byte(patch)))).To(gomega.Succeed())
		time.Sleep(100 * time.Millisecond)
	}

	attempts := managerWriteLog.to("/apis/apps/v1/namespaces/"+ns+"/deployments/pipeline-sink", since)
	gaps := make([]time.Duration, 0, len(attempts))
	for i := 1; i < len(attempts); i++ {
		gaps = append(gaps, attempts[i].at.Sub(attempts[i-1].at).Round(10*time.Millisecond))
	}
	t.Logf("%d touches, %d attempts at the refused Deployment in %s, gaps %v", touches, len(attempts), window, gaps)
	// Attempts at about 0, 1, 3 and 7 s (the next one, at 15 s, is past
	// the window); each one a dry run.
	g.Expect(len(attempts)).To(gomega.BeNumerically(">=", 3), "the refused child is retried")
	g.Expect(len(attempts)).To(gomega.BeNumerically("<=", 5))
	for i, gap := range gaps {
		period := backoffInitial << i
		g.Expect(gap).To(gomega.BeNumerically(">=", period*9/10), "attempt %d came %s after the one before, within its backoff period %s", i+2, gap, period)
	}
	for _, a := range attempts {
		g.Expect(a.dryRun).To(gomega.BeTrue(), "the refused child was written")
	}
	// The worker's Deployment, whose change the API server accepts, is
	// not written either.
	after := childVersions(ctx, t, z)
	delete(before, "ConfigMap/pipeline-ventilator-zmq")
	delete(after, "ConfigMap/pipeline-ventilator-zmq")
	g.Expect(after).To(gomega.Equal(before))
}

// frozenAnnotation on a pod template makes installFreezePolicy's policy
// refuse the Deployment.
const frozenAnnotation = "zmq-test.example/frozen"

// installFreezePolicy installs a ValidatingAdmissionPolicy, bound to one
// namespace, that refuses Deployments whose pod template carries
// frozenAnnotation, and waits until the API server enforces it.
func installFreezePolicy(ctx context.Context, t *testing.T, g gomega.Gomega, ns string) {
	t.Helper()
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "freeze-" + ns},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				},
			}}},
			Validations: []admissionv1.Validation{{
				Expression: fmt.Sprintf(`!has(object.spec.template.metadata.annotations) || !(%q in object.spec.template.metadata.annotations)`, frozenAnnotation),
				Message:    "Deployments annotated " + frozenAnnotation + " are frozen by policy",
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "freeze-" + ns},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: ns},
			}},
		},
	}
	g.Expect(k8sClient.Create(ctx, policy)).To(gomega.Succeed())
	g.Expect(k8sClient.Create(ctx, binding)).To(gomega.Succeed())
	t.Cleanup(func() {
		_ = k8sClient.Delete(context.Background(), binding)
		_ = k8sClient.Delete(context.Background(), policy)
	})
	labels := map[string]string{"app": "probe"}
	probe := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "policy-probe"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{frozenAnnotation: "true"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			},
		},
	}
	g.Eventually(func() error {
		return k8sClient.Create(ctx, probe.DeepCopy(), client.DryRunAll)
	}).Should(gomega.MatchError(gomega.ContainSubstring("frozen by policy")))
}

// staleReads is a client whose reads of chosen objects return them as they
// were before a write, as an informer cache that lags behind does.
type staleReads struct {
	client.Client
	mu    sync.Mutex
	stale map[string]client.Object // by type and key
}

func staleKey(obj any, key client.ObjectKey) string { return fmt.Sprintf("%T/%s", obj, key) }

// freeze makes reads of obj return this copy of it.
func (c *staleReads) freeze(obj client.Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stale[staleKey(obj, client.ObjectKeyFromObject(obj))] = obj.DeepCopyObject().(client.Object)
}

// thaw serves fresh reads again.
func (c *staleReads) thaw() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.stale)
}

func (c *staleReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.mu.Lock()
	old, ok := c.stale[staleKey(obj, key)]
	c.mu.Unlock()
	if !ok {
		return c.Client.Get(ctx, key, obj, opts...)
	}
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(old.DeepCopyObject()).Elem())
	return nil
}

func (c *staleReads) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := c.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	if l, ok := list.(*appsv1.DeploymentList); ok {
		for i := range l.Items {
			c.mu.Lock()
			old, ok := c.stale[staleKey(&l.Items[i], client.ObjectKeyFromObject(&l.Items[i]))]
			c.mu.Unlock()
			if ok {
				l.Items[i] = *old.DeepCopyObject().(*appsv1.Deployment)
			}
		}
	}
	return nil
}

// TestStatusNotAheadOfStaleCache: after a spec change, a reconciler whose
// reads return the Deployment from before its write (rolled out and ready
// at the old generation) must not report Ready: the generation its apply
// returned is newer than the one it reads. Ready comes once the fresh,
// rolled-out object is read.
func TestStatusNotAheadOfStaleCache(t *testing.T) {
	ctx, g := envtestOnly(t)
	z, _ := runningPipeline(ctx, t, g, newNamespace(ctx, t))
	key := client.ObjectKeyFromObject(z)
	sinkKey := client.ObjectKey{Namespace: z.Namespace, Name: "pipeline-sink"}
	old := &appsv1.Deployment{}
	g.Expect(k8sClient.Get(ctx, sinkKey, old)).To(gomega.Succeed())

	// A new image for the sink: the manager writes generation 2.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[2].Template.Spec.Containers[0].Image = "zmq-operator-examples:v2"
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(ctx, sinkKey, d)).To(gomega.Succeed())
		g.Expect(d.Generation).To(gomega.BeNumerically(">", old.Generation))
	}).Should(gomega.Succeed())
	eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "component sink: rolling out")

	// A reconciler that reads the sink's Deployment as it was: ready, at
	// the old generation.
	c, err := client.New(testEnv.Config, client.Options{Scheme: testScheme})
	g.Expect(err).NotTo(gomega.HaveOccurred())
	stale := &staleReads{Client: c, stale: map[string]client.Object{}}
	stale.freeze(old)
	// (A FakeRecorder without a channel drops events rather than block.)
	r := &ZMQTopologyReconciler{Client: stale, Unlabelled: stale, Recorder: &events.FakeRecorder{}, Render: renderOpts}
	reconcile := func(g gomega.Gomega) ctrl.Result {
		res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: key})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		return res
	}
	notAhead := func(g gomega.Gomega) {
		res := reconcile(g)
		g.Expect(res.RequeueAfter).To(gomega.BeNumerically(">", 0))
		g.Expect(res.RequeueAfter).To(gomega.BeNumerically("<=", staleCacheRequeue), "a stale read is retried soon")
		g.Expect(res.Priority).To(gomega.Equal(ptr.To(0)), "a retry keeps the priority it was queued at (readyPriority)")
		c, got := readyCondition(ctx, g, key)
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse), "Ready from a stale read: %s", c.Message)
		g.Expect(c.Message).To(gomega.Equal("component sink: waiting to observe the Deployment just written"))
		g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, zmqv1.ConditionReconciling)).To(gomega.BeTrue())
	}
	g.Eventually(notAhead).Should(gomega.Succeed())

	// The fresh Deployment rolls out: the manager, whose cache is fresh,
	// says Ready; the stale reader still does not (and nothing else writes
	// the status meanwhile: status patches trigger no reconcile).
	markDeploymentReady(ctx, g, z.Namespace, "pipeline-sink", 1)
	eventuallyReady(ctx, g, key, metav1.ConditionTrue, zmqv1.ReasonReady, "")
	for range 3 {
		notAhead(g)
	}

	// Once the cache catches up, Ready.
	stale.thaw()
	g.Eventually(func(g gomega.Gomega) {
		reconcile(g)
		c, _ := readyCondition(ctx, g, key)
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionTrue), c.Message)
	}).Should(gomega.Succeed())
}

// kstatusOf computes kstatus' status of the topology as stored.
func kstatusOf(ctx context.Context, g gomega.Gomega, key client.ObjectKey) kstatus.Status {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(zmqv1.GroupVersion.WithKind("ZMQTopology"))
	g.Expect(k8sClient.Get(ctx, key, u)).To(gomega.Succeed())
	res, err := kstatus.Compute(u)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	return res.Status
}

// TestKstatus runs kstatus on the topology as the API server stores it:
// InProgress while rolling out, Current when ready, Failed when invalid,
// and InProgress again once fixed. The namespace is one the webhook skips,
// so that the invalid edit is stored, as for a topology stored before the
// webhook was installed.
func TestKstatus(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newUnguardedNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	key := client.ObjectKeyFromObject(z)

	got := eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "")
	g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, zmqv1.ConditionReconciling)).To(gomega.BeTrue())
	g.Expect(kstatusOf(ctx, g, key)).To(gomega.Equal(kstatus.InProgressStatus))

	markAllReady(ctx, g, z)
	eventuallyReady(ctx, g, key, metav1.ConditionTrue, zmqv1.ReasonReady, "")
	g.Expect(kstatusOf(ctx, g, key)).To(gomega.Equal(kstatus.CurrentStatus))

	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[1].Sockets[0].Connect.Component = "ghost"
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonInvalidSpec, "spec.components[1].sockets[0].connect.component")
	g.Expect(kstatusOf(ctx, g, key)).To(gomega.Equal(kstatus.FailedStatus))

	// Fixed with a scale-up: rolling out again.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[1].Sockets[0].Connect.Component = "ventilator"
	z.Spec.Components[1].Replicas = ptr.To[int32](5)
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "component worker: rolling out")
	g.Expect(kstatusOf(ctx, g, key)).To(gomega.Equal(kstatus.InProgressStatus))
}
