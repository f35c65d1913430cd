package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// This file holds the examples of issue #9, each a topology that used to
// be admitted and then failed on a child: each is now refused with the
// field path of the culprit, and never touches a child.

// expectRefused checks that the API server refuses err's request with a
// message containing every want.
func expectRefused(t *testing.T, err error, want ...string) {
	t.Helper()
	t.Logf("refused: %v", err)
	if err == nil {
		t.Fatal("the API server admitted it; want it refused")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not contain %q", err, w)
		}
	}
}

// TestIssue9RefusedAtAdmission covers examples 1, 2, 4, 5 and 6: specs the
// API server now refuses with the field path, so nothing is ever created.
func TestIssue9RefusedAtAdmission(t *testing.T) {
	ctx, _ := envtestOnly(t)
	ns := newNamespace(ctx, t)
	for _, tc := range []struct {
		name   string
		mutate func(z *zmqv1.ZMQTopology)
		want   []string
	}{
		{"example 1: a dot in the topology name", func(z *zmqv1.ZMQTopology) { z.Name = "my.pipe" },
			[]string{"metadata.name must be a DNS-1035 label"}},
		{"example 2: a socket name that is not a port name", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[2].Sockets[0].Name = "re--sults"
			z.Spec.Components[1].Sockets[1].Connect.Socket = "re--sults"
		}, []string{"spec.components[2].sockets[0].name", "may not contain '--'"}},
		{"example 4: a container named like the sidecar", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[0].Template.Spec.Containers[0].Name = zmqv1.SidecarContainerName
		}, []string{"spec.components[0].template.spec.containers[0].name", "reserved for the injected zmq-sidecar container"}},
		{"example 6: an address port out of range", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[2].Sockets = append(z.Spec.Components[2].Sockets,
				zmqv1.Socket{Name: "legacy", Type: zmqv1.PULL, Connect: &zmqv1.ConnectSpec{Address: "tcp://legacy.example:99999"}})
		}, []string{"spec.components[2].sockets[1].connect.address", "the port of address must be between 1 and 65535"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
			tc.mutate(z)
			expectRefused(t, k8sClient.Create(ctx, z), tc.want...)
		})
	}

	// Example 5 as a user writes it, `template: {}`: the typed client
	// would send a spec with containers: null instead.
	t.Run("example 5: a template without containers", func(t *testing.T) {
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns))
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: raw}
		u.SetGroupVersionKind(zmqv1.GroupVersion.WithKind("ZMQTopology"))
		comps, _, _ := unstructured.NestedSlice(u.Object, "spec", "components")
		comps[0].(map[string]any)["template"] = map[string]any{}
		if err := unstructured.SetNestedSlice(u.Object, comps, "spec", "components"); err != nil {
			t.Fatal(err)
		}
		expectRefused(t, k8sClient.Create(ctx, u), "spec.components[0].template.spec.containers", "a template needs at least one container")
	})
}

// subtestGomega is envtestOnly's Gomega for a subtest: the same timeouts.
func subtestGomega(t *testing.T) gomega.Gomega {
	g := newGomega(t)
	g.SetDefaultConsistentlyDuration(2 * time.Second)
	return g
}

// collidingTopology is example 3: component x (2 replicas, binding a
// socket, so it has the headless Service t-x-headless) and component
// x-headless (whose ClusterIP Service is t-x-headless too).
func collidingTopology(ns, name string) *zmqv1.ZMQTopology {
	tpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
	return &zmqv1.ZMQTopology{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: zmqv1.ZMQTopologySpec{Components: []zmqv1.Component{
			{Name: "x", Replicas: ptr.To[int32](2), Template: tpl.DeepCopy(), Sockets: []zmqv1.Socket{
				{Name: "out", Type: zmqv1.PUSH, Bind: &zmqv1.BindSpec{Port: 5000}},
			}},
			{Name: "x-headless", Template: tpl.DeepCopy(), Sockets: []zmqv1.Socket{
				{Name: "in", Type: zmqv1.PULL, Bind: &zmqv1.BindSpec{Port: 5001}},
			}},
		}},
	}
}

// TestIssue9DerivedNameCollision is example 3. The webhook runs Validate at
// admission, so the colliding spec is refused with the field path, both
// when created and when added to a running topology (whose children stay
// as they were). Where the webhook is not in force (a topology stored
// before it was installed), the controller's backstop reports InvalidSpec
// and creates, changes and deletes nothing.
func TestIssue9DerivedNameCollision(t *testing.T) {
	ctx, _ := envtestOnly(t)
	const path = `spec.components[1].name: Invalid value: "x-headless": its Service "t-x-headless" is also a child of component "x"`
	guarded, unguarded := newNamespace(ctx, t), newUnguardedNamespace(ctx, t)

	// running creates the topology without its second component and
	// waits until it is Ready, returning its children's versions.
	running := func(g gomega.Gomega, ns, name string) (*zmqv1.ZMQTopology, map[string]string) {
		z := collidingTopology(ns, name)
		z.Spec.Components = z.Spec.Components[:1]
		g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
		g.Eventually(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.HaveKey("Service/" + name + "-x-headless"))
		markAllReady(ctx, g, z)
		eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionTrue, zmqv1.ReasonReady, "")
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(z), z)).To(gomega.Succeed())
		z.Spec.Components = append(z.Spec.Components, collidingTopology(ns, name).Spec.Components[1])
		return z, childVersions(ctx, t, z)
	}

	t.Run("created: refused at admission", func(t *testing.T) {
		expectRefused(t, k8sClient.Create(ctx, collidingTopology(guarded, "t")), path)
	})

	t.Run("added to a running topology: refused at admission", func(t *testing.T) {
		g := subtestGomega(t)
		z, before := running(g, guarded, "t2")
		expectRefused(t, k8sClient.Update(ctx, z), strings.ReplaceAll(path, `"t-`, `"t2-`))
		g.Consistently(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.Equal(before))
	})

	t.Run("created without the webhook: the backstop creates nothing", func(t *testing.T) {
		g := subtestGomega(t)
		z := collidingTopology(unguarded, "t")
		g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
		eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionFalse, zmqv1.ReasonInvalidSpec, path)
		g.Consistently(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.BeEmpty(), "nothing may be created")
	})

	t.Run("added without the webhook: the backstop changes nothing", func(t *testing.T) {
		g := subtestGomega(t)
		z, before := running(g, unguarded, "t2")
		g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
		eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionFalse, zmqv1.ReasonInvalidSpec, strings.ReplaceAll(path, `"t-`, `"t2-`))
		g.Consistently(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.Equal(before),
			"the running component's headless Service must not be taken over")
	})
}

// TestIssue9InvalidRenameOfRunningTopology is example 7: renaming a socket
// of a running topology to an invalid port name is refused at admission,
// and no child is written.
func TestIssue9InvalidRenameOfRunningTopology(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z, before := runningPipeline(ctx, t, g, ns)
	key := client.ObjectKeyFromObject(z)

	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[1].Sockets[1].Name = "re--sults"
	z.Spec.Components[1].Sockets[1].Connect.Socket = "re--sults"
	z.Spec.Components[2].Sockets[0].Name = "re--sults"
	expectRefused(t, k8sClient.Update(ctx, z), "spec.components[1].sockets[1].name", "spec.components[2].sockets[0].name", "may not contain '--'")
	g.Consistently(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.Equal(before))
}
