package controllers

import (
	"context"
	"testing"

	"github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// ingressSummary maps each ingress port of a stored NetworkPolicy to the
// components (by their component label) and namespaces its peers select,
// as "component:<name>" and "ns:<name>".
func ingressSummary(ctx context.Context, g gomega.Gomega, ns, name string) map[int32][]string {
	np := &networkingv1.NetworkPolicy{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, np)).To(gomega.Succeed())
	g.Expect(np.Spec.PolicyTypes).To(gomega.Equal([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}))
	out := map[int32][]string{}
	for _, r := range np.Spec.Ingress {
		g.Expect(r.From).NotTo(gomega.BeEmpty(), "a rule without peers admits everyone")
		for _, p := range r.Ports {
			for _, peer := range r.From {
				switch {
				case peer.NamespaceSelector != nil:
					out[p.Port.IntVal] = append(out[p.Port.IntVal], "ns:"+peer.NamespaceSelector.MatchLabels[render.NamespaceNameLabel])
				case peer.PodSelector != nil:
					g.Expect(peer.PodSelector.MatchLabels).To(gomega.HaveKeyWithValue(render.LabelTopology, np.Labels[render.LabelTopology]))
					out[p.Port.IntVal] = append(out[p.Port.IntVal], "component:"+peer.PodSelector.MatchLabels[render.LabelComponent])
				}
			}
		}
	}
	return out
}

// TestNetworkPolicies follows the pipeline sample's NetworkPolicies
// through a removed link, drift, opting out and back in.
func TestNetworkPolicies(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z, _ := runningPipeline(ctx, t, g, ns)
	key := client.ObjectKeyFromObject(z)
	agent := []string{"ns:zmq-system"}

	// One policy per component: each bound port open to its declared
	// connectors only, the sidecar's port to the operator only.
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(ingressSummary(ctx, g, ns, "pipeline-ventilator")).To(gomega.Equal(map[int32][]string{
			5557: {"component:worker"}, zmqv1.SidecarPort: agent}))
		g.Expect(ingressSummary(ctx, g, ns, "pipeline-sink")).To(gomega.Equal(map[int32][]string{
			5558: {"component:worker"}, zmqv1.SidecarPort: agent}))
		g.Expect(ingressSummary(ctx, g, ns, "pipeline-worker")).To(gomega.Equal(map[int32][]string{
			zmqv1.SidecarPort: agent}))
	}).Should(gomega.Succeed())

	// Removing the worker -> sink link closes the sink's port.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[1].Sockets = z.Spec.Components[1].Sockets[:1] // worker keeps tasks only
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(ingressSummary(ctx, g, ns, "pipeline-sink")).To(gomega.Equal(map[int32][]string{zmqv1.SidecarPort: agent}))
	}).Should(gomega.Succeed())

	// Someone opens the ventilator's policy to everyone: it is put back.
	npKey := client.ObjectKey{Namespace: ns, Name: "pipeline-ventilator"}
	np := &networkingv1.NetworkPolicy{}
	g.Expect(k8sClient.Get(ctx, npKey, np)).To(gomega.Succeed())
	np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}} // allow all
	g.Expect(k8sClient.Update(ctx, np)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(ingressSummary(ctx, g, ns, "pipeline-ventilator")).To(gomega.Equal(map[int32][]string{
			5557: {"component:worker"}, zmqv1.SidecarPort: agent}))
	}).Should(gomega.Succeed())

	// Opting out deletes every policy of the topology, and nothing else.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.NetworkPolicy = &zmqv1.NetworkPolicySpec{Enabled: ptr.To(false)}
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		list := &networkingv1.NetworkPolicyList{}
		g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(gomega.Succeed())
		g.Expect(list.Items).To(gomega.BeEmpty())
	}).Should(gomega.Succeed())
	g.Expect(childVersions(ctx, t, z)).To(gomega.HaveLen(9)) // 3 ConfigMaps, 2 Services, 1 PodDisruptionBudget, 3 Deployments

	// An empty networkPolicy defaults to enabled: the policies come back.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.NetworkPolicy = &zmqv1.NetworkPolicySpec{}
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	g.Expect(z.Spec.NetworkPolicy.Enabled).To(gomega.Equal(ptr.To(true)), "the CRD defaults enabled to true")
	g.Eventually(func() int { return len(childVersions(ctx, t, z)) }).Should(gomega.Equal(12))
}
