package controllers

import (
	"context"
	"testing"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// readyCondition fetches the topology and returns its Ready condition (nil
// when absent) and the topology.
func readyCondition(ctx context.Context, g gomega.Gomega, key client.ObjectKey) (*metav1.Condition, *zmqv1.ZMQTopology) {
	z := &zmqv1.ZMQTopology{}
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	return meta.FindStatusCondition(z.Status.Conditions, zmqv1.ConditionReady), z
}

// eventuallyReady waits until Ready has the given status and reason and its
// message contains msg.
func eventuallyReady(ctx context.Context, g gomega.Gomega, key client.ObjectKey, status metav1.ConditionStatus, reason, msg string) *zmqv1.ZMQTopology {
	var z *zmqv1.ZMQTopology
	g.Eventually(func(g gomega.Gomega) {
		var c *metav1.Condition
		c, z = readyCondition(ctx, g, key)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Status).To(gomega.Equal(status), "message: %s", c.Message)
		g.Expect(c.Reason).To(gomega.Equal(reason), "message: %s", c.Message)
		g.Expect(c.Message).To(gomega.ContainSubstring(msg))
		g.Expect(c.ObservedGeneration).To(gomega.Equal(z.Generation))
		g.Expect(z.Status.ObservedGeneration).To(gomega.Equal(z.Generation))
	}).Should(gomega.Succeed())
	return z
}

// markDeploymentReady plays the Deployment controller: it reports ready of
// the desired replicas as ready and rolled out.
func markDeploymentReady(ctx context.Context, g gomega.Gomega, ns, name string, ready int32) {
	g.Eventually(func(g gomega.Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)).To(gomega.Succeed())
		want := *d.Spec.Replicas
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation,
			Replicas:           want,
			UpdatedReplicas:    want,
			ReadyReplicas:      ready,
			AvailableReplicas:  ready,
		}
		g.Expect(k8sClient.Status().Update(ctx, d)).To(gomega.Succeed())
	}).Should(gomega.Succeed())
}

// markStatefulSetReady does the same for a StatefulSet.
func markStatefulSetReady(ctx context.Context, g gomega.Gomega, ns, name string, ready int32) {
	g.Eventually(func(g gomega.Gomega) {
		s := &appsv1.StatefulSet{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)).To(gomega.Succeed())
		want := *s.Spec.Replicas
		s.Status = appsv1.StatefulSetStatus{
			ObservedGeneration: s.Generation,
			Replicas:           want,
			UpdatedReplicas:    want,
			ReadyReplicas:      ready,
			AvailableReplicas:  ready,
			CurrentReplicas:    want,
		}
		g.Expect(k8sClient.Status().Update(ctx, s)).To(gomega.Succeed())
	}).Should(gomega.Succeed())
}

// markAllReady marks every workload of a topology ready.
func markAllReady(ctx context.Context, g gomega.Gomega, z *zmqv1.ZMQTopology) {
	for i := range z.Spec.Components {
		c := &z.Spec.Components[i]
		name := render.ObjectName(z, c)
		if render.PerReplica(c) {
			markStatefulSetReady(ctx, g, z.Namespace, name, render.Replicas(c))
		} else {
			markDeploymentReady(ctx, g, z.Namespace, name, render.Replicas(c))
		}
	}
}

// childVersions maps "<Kind>/<name>" to resourceVersion for every child of
// the topology.
func childVersions(ctx context.Context, t *testing.T, z *zmqv1.ZMQTopology) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kind := range render.Kinds {
		list := kinds[kind].newList()
		if err := k8sClient.List(ctx, list, client.InNamespace(z.Namespace), client.MatchingLabels{render.LabelTopology: z.Name}); err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			o := it.(client.Object)
			out[string(kind)+"/"+o.GetName()] = o.GetResourceVersion()
		}
	}
	return out
}

// runningPipeline creates the pipeline sample in ns, waits for its 9
// children, makes its workloads look rolled out and waits for Ready. It
// returns the topology and its children's resourceVersions.
func runningPipeline(ctx context.Context, t *testing.T, g gomega.Gomega, ns string) (*zmqv1.ZMQTopology, map[string]string) {
	t.Helper()
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	g.Eventually(func() int { return len(childVersions(ctx, t, z)) }).Should(gomega.Equal(9))
	markAllReady(ctx, g, z)
	eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionTrue, zmqv1.ReasonReady, "")
	return z, childVersions(ctx, t, z)
}
