package controllers

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// scalingTopology is a ventilator and a connector-only worker pool of 2
// replicas, which an external autoscaler may own.
func scalingTopology(ns string, external bool) *zmqv1.ZMQTopology {
	z := preflightTopology(
		app("vent", 1, bind("tasks", zmqv1.PUSH, 5557)),
		app("worker", 2, connect("tasks", zmqv1.PULL, "vent", "tasks")),
	)
	z.Name, z.Namespace = "scaling", ns
	if external {
		z.Spec.Components[1].Autoscaling = &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingExternal}
	}
	return z
}

// scaleAsHPA sets the Deployment's replicas through its scale subresource
// under the HorizontalPodAutoscaler's field manager, as an HPA does.
func scaleAsHPA(ctx context.Context, g gomega.Gomega, key client.ObjectKey, replicas int32) {
	g.Eventually(func() error {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, key, d); err != nil {
			return err
		}
		scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}
		return k8sClient.SubResource("scale").Update(ctx, d, client.WithSubResourceBody(scale),
			client.FieldOwner("horizontal-pod-autoscaler"))
	}).Should(gomega.Succeed())
}

// touchSpec changes the topology's spec (the send HWM, which reaches the
// workers' environment) and waits until the operator has applied it.
func touchSpec(ctx context.Context, g gomega.Gomega, key, depKey client.ObjectKey, hwm int32) {
	g.Eventually(func() error {
		z := &zmqv1.ZMQTopology{}
		if err := k8sClient.Get(ctx, key, z); err != nil {
			return err
		}
		z.Spec.SocketDefaults = &zmqv1.SocketOptions{SndHWM: ptr.To(hwm)}
		return k8sClient.Update(ctx, z)
	}).Should(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(ctx, depKey, d)).To(gomega.Succeed())
		g.Expect(envOf(d.Spec.Template, "ZMQ_TASKS_SNDHWM")).To(gomega.Equal(strconv.Itoa(int(hwm))))
		z := &zmqv1.ZMQTopology{}
		g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
		g.Expect(z.Status.ObservedGeneration).To(gomega.Equal(z.Generation))
	}).Should(gomega.Succeed())
}

func deploymentReplicas(ctx context.Context, g gomega.Gomega, key client.ObjectKey) int32 {
	d := &appsv1.Deployment{}
	g.Expect(k8sClient.Get(ctx, key, d)).To(gomega.Succeed())
	return *d.Spec.Replicas
}

// TestExternalReplicasSurviveReconciles is issue 12's acceptance line "an
// HPA on a child of an opt-out component keeps its replica count across
// reconciles", with the control case: without the opt-out the operator
// restores its own count.
func TestExternalReplicasSurviveReconciles(t *testing.T) {
	ctx, _ := envtestOnly(t)
	for _, tc := range []struct {
		name     string
		external bool
		want     int32 // replicas after the HPA-like write and three reconciles
	}{
		{"autoscaling External", true, 5},
		{"operator-owned replicas", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := gomega.NewWithT(t)
			g.SetDefaultEventuallyTimeout(30e9)
			ns := newNamespace(ctx, t)
			z := scalingTopology(ns, tc.external)
			g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
			key := client.ObjectKeyFromObject(z)
			depKey := client.ObjectKey{Namespace: ns, Name: "scaling-worker"}

			// Created with the initial count, never with the default of 1.
			g.Eventually(func() error { return k8sClient.Get(ctx, depKey, &appsv1.Deployment{}) }).Should(gomega.Succeed())
			g.Expect(deploymentReplicas(ctx, g, depKey)).To(gomega.Equal(int32(2)))
			if tc.external {
				g.Eventually(func() bool { return ownsReplicas(ctx, g, depKey, render.ManagedBy) }).Should(gomega.BeFalse(),
					"the operator's field manager must give spec.replicas up")
			}

			scaleAsHPA(ctx, g, depKey, 5)
			for i := int32(1); i <= 3; i++ {
				touchSpec(ctx, g, key, depKey, 100*i)
				g.Expect(deploymentReplicas(ctx, g, depKey)).To(gomega.Equal(tc.want), "after reconcile %d", i)
			}
			g.Consistently(func() int32 { return deploymentReplicas(ctx, g, depKey) }, "2s").Should(gomega.Equal(tc.want))

			// Readiness follows the workload's own count when opted out.
			markAllReady(ctx, g, z)
			markDeploymentReady(ctx, g, ns, "scaling-worker", tc.want)
			got := eventuallyReady(ctx, g, key, metav1.ConditionTrue, zmqv1.ReasonReady, "")
			g.Expect(got.Status.Components[1].Replicas).To(gomega.Equal(tc.want))
		})
	}
}

// TestSwitchToExternalKeepsReplicas checks the hand-over when a running
// component switches to External: its count stays (it is not reset to the
// default of 1 when the operator drops the field), and an HPA-like write
// survives afterwards.
func TestSwitchToExternalKeepsReplicas(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z := scalingTopology(ns, false)
	z.Spec.Components[1].Replicas = ptr.To[int32](4)
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	key := client.ObjectKeyFromObject(z)
	depKey := client.ObjectKey{Namespace: ns, Name: "scaling-worker"}
	g.Eventually(func() error { return k8sClient.Get(ctx, depKey, &appsv1.Deployment{}) }).Should(gomega.Succeed())
	g.Expect(ownsReplicas(ctx, g, depKey, render.ManagedBy)).To(gomega.BeTrue())

	g.Eventually(func() error {
		if err := k8sClient.Get(ctx, key, z); err != nil {
			return err
		}
		z.Spec.Components[1].Autoscaling = &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingExternal}
		return k8sClient.Update(ctx, z)
	}).Should(gomega.Succeed())
	g.Eventually(func() bool { return ownsReplicas(ctx, g, depKey, render.ManagedBy) }).Should(gomega.BeFalse())
	g.Expect(deploymentReplicas(ctx, g, depKey)).To(gomega.Equal(int32(4)))
	g.Consistently(func() int32 { return deploymentReplicas(ctx, g, depKey) }, "2s").Should(gomega.Equal(int32(4)))

	scaleAsHPA(ctx, g, depKey, 6)
	touchSpec(ctx, g, key, depKey, 321)
	g.Expect(deploymentReplicas(ctx, g, depKey)).To(gomega.Equal(int32(6)))
}

// ownsReplicas reports whether the field manager owns spec.replicas of the
// Deployment.
func ownsReplicas(ctx context.Context, g gomega.Gomega, key client.ObjectKey, manager string) bool {
	d := &appsv1.Deployment{}
	g.Expect(k8sClient.Get(ctx, key, d)).To(gomega.Succeed())
	for _, mf := range d.ManagedFields {
		if mf.Manager == manager && mf.FieldsV1 != nil && containsReplicas(mf.FieldsV1.Raw) {
			return true
		}
	}
	return false
}

func containsReplicas(raw []byte) bool {
	var m map[string]map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return false
	}
	_, ok := m["f:spec"]["f:replicas"]
	return ok
}

// TestPodDisruptionBudgets is issue 12's acceptance line "PDBs exist for
// multi-replica components and are absent with the opt-out".
func TestPodDisruptionBudgets(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z, _ := runningPipeline(ctx, t, g, ns)
	key := client.ObjectKeyFromObject(z)

	pdb := &policyv1.PodDisruptionBudget{}
	pdbKey := client.ObjectKey{Namespace: ns, Name: "pipeline-worker"}
	g.Expect(k8sClient.Get(ctx, pdbKey, pdb)).To(gomega.Succeed())
	g.Expect(pdb.Spec.MaxUnavailable).To(gomega.Equal(ptr.To(intstr.FromInt32(1))))
	g.Expect(pdb.Spec.MinAvailable).To(gomega.BeNil())
	g.Expect(pdb.Spec.Selector.MatchLabels).To(gomega.Equal(map[string]string{
		render.LabelTopology: "pipeline", render.LabelComponent: "worker"}))
	g.Expect(metav1.IsControlledBy(pdb, z)).To(gomega.BeTrue())
	for _, single := range []string{"pipeline-ventilator", "pipeline-sink"} {
		err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: single}, &policyv1.PodDisruptionBudget{})
		g.Expect(apierrors.IsNotFound(err)).To(gomega.BeTrue(), "a 1-replica component has no PDB: %s", single)
	}

	// A deleted PDB comes back (drift), like any child.
	uid := pdb.UID
	g.Expect(k8sClient.Delete(ctx, pdb)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(k8sClient.Get(ctx, pdbKey, pdb)).To(gomega.Succeed())
		g.Expect(pdb.UID).NotTo(gomega.Equal(uid))
	}).Should(gomega.Succeed())

	// The opt-out removes it; scaling the ventilator up adds one.
	update := func(edit func(*zmqv1.ZMQTopology)) {
		g.Eventually(func() error {
			if err := k8sClient.Get(ctx, key, z); err != nil {
				return err
			}
			edit(z)
			return k8sClient.Update(ctx, z)
		}).Should(gomega.Succeed())
	}
	update(func(z *zmqv1.ZMQTopology) {
		z.Spec.Components[1].PodDisruptionBudget = &zmqv1.PodDisruptionBudgetSpec{Mode: zmqv1.PodDisruptionBudgetDisabled}
		z.Spec.Components[2].Replicas = ptr.To[int32](2) // the sink, which binds: a StatefulSet
	})
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, pdbKey, &policyv1.PodDisruptionBudget{}))
	}).Should(gomega.BeTrue(), "the opt-out deletes the PDB")
	g.Eventually(func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pipeline-sink"}, &policyv1.PodDisruptionBudget{})
	}).Should(gomega.Succeed())
	g.Consistently(func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, pdbKey, &policyv1.PodDisruptionBudget{}))
	}, "2s").Should(gomega.BeTrue())
}

// TestDeviceTemplateReachesPods is issue 12's acceptance line
// "device.template fields reach the device pods", plus the default soft
// spread of a multi-replica device and the surge-before-stop strategy of a
// single-replica one.
func TestDeviceTemplateReachesPods(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	tmpl := zmqv1.DevicePodSpec{
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}}},
		}}},
		Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "zmq", Effect: corev1.TaintEffectNoSchedule}},
		NodeSelector:      map[string]string{"kubernetes.io/os": "linux"},
		PriorityClassName: "system-cluster-critical",
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone",
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"zmq.topology.dev/component": "stream"}}}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "device-pull"}},
	}
	z := preflightTopology(
		app("vent", 1, bind("tasks", zmqv1.PUSH, 5557)),
		zmqv1.Component{Name: "stream", Device: &zmqv1.DeviceSpec{Type: zmqv1.Streamer, Template: &zmqv1.DevicePodTemplate{Spec: tmpl}},
			Sockets: []zmqv1.Socket{connect("frontend", zmqv1.PULL, "vent", "tasks"), bind("backend", zmqv1.PUSH, 5558)}},
		zmqv1.Component{Name: "fwd", Replicas: ptr.To[int32](2), Device: &zmqv1.DeviceSpec{Type: zmqv1.Forwarder},
			Sockets: []zmqv1.Socket{bind("frontend", zmqv1.XSUB, 5559), bind("backend", zmqv1.XPUB, 5560)}},
		app("work", 1, connect("tasks", zmqv1.PULL, "stream", "backend")),
	)
	z.Name, z.Namespace = "placed", ns
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())

	d := &appsv1.Deployment{}
	g.Eventually(func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "placed-stream"}, d)
	}).Should(gomega.Succeed())
	spec := d.Spec.Template.Spec
	g.Expect(spec.Affinity).To(gomega.Equal(tmpl.Affinity))
	g.Expect(spec.Tolerations).To(gomega.Equal(tmpl.Tolerations))
	g.Expect(spec.NodeSelector).To(gomega.Equal(tmpl.NodeSelector))
	g.Expect(spec.PriorityClassName).To(gomega.Equal(tmpl.PriorityClassName))
	g.Expect(spec.TopologySpreadConstraints).To(gomega.Equal(tmpl.TopologySpreadConstraints))
	g.Expect(spec.ImagePullSecrets).To(gomega.Equal(tmpl.ImagePullSecrets))
	g.Expect(*spec.TerminationGracePeriodSeconds).To(gomega.Equal(int64(30)))
	g.Expect(d.Spec.Strategy.RollingUpdate.MaxUnavailable).To(gomega.Equal(ptr.To(intstr.FromInt32(0))))
	g.Expect(d.Spec.Strategy.RollingUpdate.MaxSurge).To(gomega.Equal(ptr.To(intstr.FromInt32(1))))

	sts := &appsv1.StatefulSet{}
	g.Eventually(func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "placed-fwd"}, sts)
	}).Should(gomega.Succeed())
	g.Expect(sts.Spec.Template.Spec.TopologySpreadConstraints).To(gomega.Equal([]corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{render.LabelTopology: "placed", render.LabelComponent: "fwd"}},
	}}))

	// A bad value is refused at admission with its field path.
	bad := z.DeepCopy()
	bad.ResourceVersion = ""
	bad.Name = "placed-bad"
	bad.Spec.Components[1].Device.Template.Spec.Tolerations[0].Effect = "Sometimes"
	err := k8sClient.Create(ctx, bad)
	g.Expect(err).To(gomega.HaveOccurred())
	g.Expect(err.Error()).To(gomega.ContainSubstring("spec.components[1].device.template.spec.tolerations[0].effect"))
}
