package controllers

import (
	"context"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// TestLiveEndpointsScaleKeepsTemplate scales the pub/sub sample's
// Forwarder from 2 to 3 replicas: the Live subscriber's Deployment keeps
// its generation and pod template (no rollout) while its ConfigMap gains
// the new replica's endpoint; the Restart subscriber's Deployment rolls.
func TestLiveEndpointsScaleKeepsTemplate(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_pubsub.yaml", ns)
	z.Component("dashboard").EndpointUpdates = zmqv1.EndpointUpdatesLive
	z.Component("news").EndpointUpdates = zmqv1.EndpointUpdatesLive
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	key := client.ObjectKeyFromObject(z)

	deploy := func(name string) *appsv1.Deployment {
		// Workloads are written after the ConfigMaps: wait for them.
		d := &appsv1.Deployment{}
		g.Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pubsub-" + name}, d)
		}).Should(gomega.Succeed())
		return d
	}
	fileEndpoints := func(name string) []string {
		cm := &corev1.ConfigMap{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pubsub-" + name + "-zmq"}, cm); err != nil {
			return nil
		}
		cfg, err := zmqconfig.Parse([]byte(cm.Data[zmqconfig.FileName]))
		g.Expect(err).NotTo(gomega.HaveOccurred())
		return cfg.Socket("in").Endpoints
	}
	g.Eventually(func() []string { return fileEndpoints("dashboard") }).Should(gomega.HaveLen(2))
	g.Eventually(func() []string { return fileEndpoints("audit") }).Should(gomega.HaveLen(2))
	g.Eventually(func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pubsub-audit"}, &appsv1.Deployment{})
	}).Should(gomega.Succeed())
	live, restart := deploy("dashboard"), deploy("audit")
	g.Expect(envOf(live.Spec.Template, "ZMQ_IN_ENDPOINTS")).To(gomega.BeEmpty())
	g.Expect(envOf(live.Spec.Template, render.EnvEndpointUpdates)).To(gomega.Equal("Live"))
	g.Expect(live.Spec.Template.Annotations).To(gomega.HaveKey(render.AnnotationConfigHash))
	g.Expect(envOf(restart.Spec.Template, "ZMQ_IN_ENDPOINTS")).To(gomega.ContainSubstring("pubsub-events-1."))

	updateTopology(ctx, g, key, func(z *zmqv1.ZMQTopology) { z.Component("events").Replicas = ptr.To[int32](3) })

	// Both ConfigMaps follow the scale; only the Restart template does.
	g.Eventually(func() []string { return fileEndpoints("dashboard") }).Should(gomega.HaveLen(3))
	g.Eventually(func() []string { return fileEndpoints("audit") }).Should(gomega.HaveLen(3))
	g.Expect(fileEndpoints("dashboard")[2]).To(gomega.HavePrefix("tcp://pubsub-events-2."))
	g.Eventually(func() string { return envOf(deploy("audit").Spec.Template, "ZMQ_IN_ENDPOINTS") }).
		Should(gomega.ContainSubstring("pubsub-events-2."))
	g.Expect(deploy("audit").Generation).To(gomega.BeNumerically(">", restart.Generation))

	after := deploy("dashboard")
	g.Expect(after.Generation).To(gomega.Equal(live.Generation), "Live subscriber's Deployment generation")
	g.Expect(after.Spec.Template).To(gomega.Equal(live.Spec.Template), "Live subscriber's pod template")
	news := deploy("news")
	g.Expect(news.Generation).To(gomega.Equal(int64(1)), "Live publisher's Deployment generation")

	// A change other than endpoints still rolls the Live subscriber.
	updateTopology(ctx, g, key, func(z *zmqv1.ZMQTopology) {
		z.Component("dashboard").Sockets[0].Options = &zmqv1.SocketOptions{RcvHWM: ptr.To[int32](7)}
	})
	g.Eventually(func() int64 { return deploy("dashboard").Generation }).Should(gomega.BeNumerically(">", live.Generation))
	rolled := deploy("dashboard").Spec.Template
	g.Expect(envOf(rolled, "ZMQ_IN_RCVHWM")).To(gomega.Equal("7"))
	g.Expect(rolled.Annotations[render.AnnotationConfigHash]).NotTo(gomega.Equal(live.Spec.Template.Annotations[render.AnnotationConfigHash]))

	// Switching a component back to Restart puts its endpoints back.
	updateTopology(ctx, g, key, func(z *zmqv1.ZMQTopology) { z.Component("dashboard").EndpointUpdates = zmqv1.EndpointUpdatesRestart })
	g.Eventually(func() string { return envOf(deploy("dashboard").Spec.Template, "ZMQ_IN_ENDPOINTS") }).
		Should(gomega.Equal(strings.Join(fileEndpoints("dashboard"), ",")))
	g.Expect(deploy("dashboard").Spec.Template.Annotations).NotTo(gomega.HaveKey(render.AnnotationConfigHash))
}

// updateTopology applies edit to the stored topology, retrying conflicts.
func updateTopology(ctx context.Context, g gomega.Gomega, key client.ObjectKey, edit func(*zmqv1.ZMQTopology)) {
	g.Eventually(func() error {
		z := &zmqv1.ZMQTopology{}
		if err := k8sClient.Get(ctx, key, z); err != nil {
			return err
		}
		edit(z)
		return k8sClient.Update(ctx, z)
	}).Should(gomega.Succeed())
}
