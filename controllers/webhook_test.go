package controllers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/internal/manifest"
)

// webhookName is the webhook's name in config/webhook, which the API server
// quotes when the webhook refuses a request.
const webhookName = "vzmqtopology-v1alpha1.zmq.topology.dev"

// graphErrors are specs that pass the CRD's schema and CEL rules but break a
// graph rule of Validate, each with the field path it must be refused at.
// The sample pipeline is ventilator (PUSH bind) <- worker (PULL connect,
// PUSH connect) -> sink (PULL bind).
var graphErrors = []struct {
	name   string
	mutate func(z *zmqv1.ZMQTopology)
	path   string
}{
	{"dangling connect: missing component", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Sockets[0].Connect.Component = "ghost" },
		"spec.components[1].sockets[0].connect.component"},
	{"dangling connect: missing socket", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Sockets[0].Connect.Socket = "nope" },
		"spec.components[1].sockets[0].connect.socket"},
	{"PUB connecting to PUSH", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Sockets[0].Type = zmqv1.PUB },
		"spec.components[1].sockets[0].type"},
	{"two sockets bind one port", func(z *zmqv1.ZMQTopology) {
		z.Spec.Components[2].Sockets = append(z.Spec.Components[2].Sockets, zmqv1.Socket{Name: "ctl", Type: zmqv1.REP, Bind: &zmqv1.BindSpec{Port: 5558}})
	}, "spec.components[2].sockets[1].bind.port"},
	{"device with the wrong socket types", func(z *zmqv1.ZMQTopology) {
		z.Spec.Components[2].Template = nil
		z.Spec.Components[2].Device = &zmqv1.DeviceSpec{Type: zmqv1.Forwarder}
		z.Spec.Components[2].Sockets[0].Name = "frontend"
		z.Spec.Components[1].Sockets[1].Connect.Socket = "frontend"
	}, "spec.components[2].sockets[0].type"},
}

// TestWebhookRefusesGraphErrors checks that the validating webhook refuses
// a topology that Validate rejects, at create and at update, with a 422
// Invalid naming the field, and that nothing is stored or touched: no
// topology on create, no child written on update.
func TestWebhookRefusesGraphErrors(t *testing.T) {
	ctx, _ := envtestOnly(t)
	ns := newNamespace(ctx, t)

	for i, tc := range graphErrors {
		t.Run("create/"+tc.name, func(t *testing.T) {
			g := newGomega(t)
			z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
			z.Name = fmt.Sprintf("refused-%d", i)
			tc.mutate(z)
			err := k8sClient.Create(ctx, z)
			g.Expect(apierrors.IsInvalid(err)).To(gomega.BeTrue(), "want 422 Invalid, got %v", err)
			g.Expect(err.Error()).To(gomega.ContainSubstring(webhookName))
			g.Expect(causeFields(err)).To(gomega.ContainElement(tc.path))
			g.Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(z), &zmqv1.ZMQTopology{}))).To(gomega.BeTrue())
		})
	}

	t.Run("every error at once", func(t *testing.T) {
		g := newGomega(t)
		z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
		z.Name = "refused-all"
		graphErrors[1].mutate(z) // components[1].sockets[0]: missing socket
		z.Spec.Components[1].Sockets[1].Type = zmqv1.PUB
		err := k8sClient.Create(ctx, z)
		g.Expect(causeFields(err)).To(gomega.ConsistOf(
			"spec.components[1].sockets[0].connect.socket",
			"spec.components[1].sockets[1].type"))
	})

	t.Run("update of a running topology", func(t *testing.T) {
		g := newGomega(t)
		z, before := runningPipeline(ctx, t, g, ns)
		key := client.ObjectKeyFromObject(z)
		g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
		generation := z.Generation

		for _, tc := range graphErrors {
			bad := z.DeepCopy()
			tc.mutate(bad)
			// The same edit also scales a component: none of it may land.
			bad.Spec.Components[0].Replicas = ptr.To[int32](5)
			err := k8sClient.Update(ctx, bad)
			g.Expect(apierrors.IsInvalid(err)).To(gomega.BeTrue(), "%s: want 422 Invalid, got %v", tc.name, err)
			g.Expect(causeFields(err)).To(gomega.ContainElement(tc.path), tc.name)
		}
		g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
		g.Expect(z.Generation).To(gomega.Equal(generation))
		g.Consistently(func() map[string]string { return childVersions(ctx, t, z) }).Should(gomega.Equal(before))
	})
}

// TestWebhookAllowsUnchangedInvalidSpec checks the webhook's update rule for
// topologies it never saw: one stored while the webhook skipped its
// namespace keeps its invalid spec, and once the webhook guards the
// namespace, updates that leave the spec alone (a label, a finalizer) are
// still allowed, a spec change that stays invalid is refused, and one that
// fixes the spec is allowed and reconciled.
func TestWebhookAllowsUnchangedInvalidSpec(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newUnguardedNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
	graphErrors[0].mutate(z)
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	key := client.ObjectKeyFromObject(z)
	eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonInvalidSpec, graphErrors[0].path)

	// The webhook starts guarding the namespace, as after an upgrade that
	// installs it: wait until the API server refuses a new invalid spec there.
	nsObj := &corev1.Namespace{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, nsObj)).To(gomega.Succeed())
	delete(nsObj.Labels, unguardedLabel)
	g.Expect(k8sClient.Update(ctx, nsObj)).To(gomega.Succeed())
	g.Eventually(func() error {
		probe := danglingConnect(ns)
		return k8sClient.Create(ctx, probe, client.DryRunAll)
	}).Should(gomega.MatchError(gomega.ContainSubstring(webhookName)))

	// Metadata only: allowed although the spec is invalid.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Labels = map[string]string{"team": "shop"}
	z.Finalizers = append(z.Finalizers, "example.com/hold")
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())

	// A spec change that leaves it invalid: refused.
	still := z.DeepCopy()
	still.Spec.Components[1].Replicas = ptr.To[int32](2)
	err := k8sClient.Update(ctx, still)
	g.Expect(apierrors.IsInvalid(err)).To(gomega.BeTrue(), "want 422 Invalid, got %v", err)
	g.Expect(causeFields(err)).To(gomega.ContainElement(graphErrors[0].path))

	// Fixing it: allowed, and the controller renders it.
	g.Expect(k8sClient.Get(ctx, key, z)).To(gomega.Succeed())
	z.Spec.Components[1].Sockets[0].Connect.Component = "ventilator"
	z.Finalizers = nil
	g.Expect(k8sClient.Update(ctx, z)).To(gomega.Succeed())
	g.Eventually(func() int { return len(childVersions(ctx, t, z)) }).Should(gomega.Equal(12))
}

// TestKubectlWebhook drives kubectl as a user would: a server-side dry run
// of a topology with a dangling connect, and of one with a PUB socket
// connecting to a PUSH, is refused with the culprit's field path in
// kubectl's output; the same files pass where the webhook does not look,
// so the refusal is the webhook's. A CEL rule's refusal shows its field
// path the same way, and a valid topology passes.
func TestKubectlWebhook(t *testing.T) {
	ctx, g := envtestOnly(t)
	kubectl := newKubectl(ctx, t)
	ns, unguarded := newNamespace(ctx, t), newUnguardedNamespace(ctx, t)
	dir := t.TempDir()
	write := func(z *zmqv1.ZMQTopology) string {
		t.Helper()
		z.APIVersion, z.Kind = zmqv1.GroupVersion.String(), "ZMQTopology"
		z.Namespace = ""
		raw, err := yaml.Marshal(z)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		file := filepath.Join(dir, z.Name+".yaml")
		g.Expect(os.WriteFile(file, raw, 0o600)).To(gomega.Succeed())
		return file
	}

	for _, tc := range []struct {
		name, file string
		mutate     func(z *zmqv1.ZMQTopology)
		want       string
		webhook    bool // refused by the webhook rather than the CRD
	}{
		{"dangling connect", "dangling", graphErrors[1].mutate,
			`The ZMQTopology "dangling" is invalid: spec.components[1].sockets[0].connect.socket: Invalid value: "nope": component "ventilator" has no socket named "nope"`, true},
		{"PUB to PUSH", "pub-push", graphErrors[2].mutate,
			`The ZMQTopology "pub-push" is invalid: spec.components[1].sockets[0].type: Invalid value: "PUB": a PUB socket cannot connect to ventilator/tasks of type PUSH`, true},
		{"CEL: neither template nor device", "cel", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Template = nil },
			`The ZMQTopology "cel" is invalid: spec.components[1]: Invalid value: exactly one of template or device must be set`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
			z.Name = tc.file
			tc.mutate(z)
			file := write(z)
			out, err := kubectl("apply", "--dry-run=server", "-n", ns, "-f", file)
			if err == nil {
				t.Fatalf("kubectl apply succeeded; want it refused:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("kubectl's output lacks %q:\n%s", tc.want, out)
			}
			out, err = kubectl("apply", "--dry-run=server", "-n", unguarded, "-f", file)
			if tc.webhook && err != nil {
				t.Errorf("without the webhook the file passes the CRD's own rules, but: %v\n%s", err, out)
			}
			if !tc.webhook && err == nil {
				t.Errorf("the CRD's own rules refuse this file even without the webhook:\n%s", out)
			}
		})
	}

	out, err := kubectl("apply", "--dry-run=server", "-n", ns, "-f", write(loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)))
	g.Expect(err).NotTo(gomega.HaveOccurred(), out)
	g.Expect(out).To(gomega.ContainSubstring("zmqtopology.zmq.topology.dev/pipeline created (server dry run)"))
}

// TestCertManagerOverlay builds config/overlays/cert-manager (cert-manager is
// not installed here, so it is not applied) and checks that its parts agree
// with config/default: the certificate is for the webhook Service's DNS
// name, issued into the Secret the manager mounts, named by the webhook
// configuration's CA-injection annotation; the manager runs in cert-manager
// mode, and the self-signed mode's empty Secret is gone.
func TestCertManagerOverlay(t *testing.T) {
	ctx, g := envtestOnly(t)
	kubectl := newKubectl(ctx, t)
	out, err := kubectl("kustomize", "config/overlays/cert-manager")
	g.Expect(err).NotTo(gomega.HaveOccurred(), out)

	objs, err := manifest.Decode([]byte(out))
	g.Expect(err).NotTo(gomega.HaveOccurred())
	byKind := map[string][]*unstructured.Unstructured{}
	for _, u := range objs {
		byKind[u.GetKind()] = append(byKind[u.GetKind()], u)
	}
	g.Expect(byKind["Secret"]).To(gomega.BeEmpty())
	g.Expect(byKind["Certificate"]).To(gomega.HaveLen(1))
	g.Expect(byKind["Issuer"]).To(gomega.HaveLen(1))
	g.Expect(byKind["ValidatingWebhookConfiguration"]).To(gomega.HaveLen(1))
	g.Expect(byKind["Deployment"]).To(gomega.HaveLen(1))
	cert, issuer, vwc := byKind["Certificate"][0], byKind["Issuer"][0], byKind["ValidatingWebhookConfiguration"][0]

	var svc *unstructured.Unstructured
	for _, s := range byKind["Service"] {
		if strings.HasSuffix(s.GetName(), "webhook-service") {
			svc = s
		}
	}
	g.Expect(svc).NotTo(gomega.BeNil())
	host := svc.GetName() + "." + svc.GetNamespace() + ".svc"
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	g.Expect(dnsNames).To(gomega.ConsistOf(host, host+".cluster.local"))
	g.Expect(cert.GetNamespace()).To(gomega.Equal(svc.GetNamespace()))
	g.Expect(issuer.GetNamespace()).To(gomega.Equal(svc.GetNamespace()))
	issuerName, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	g.Expect(issuerName).To(gomega.Equal(issuer.GetName()))
	g.Expect(vwc.GetAnnotations()).To(gomega.HaveKeyWithValue("cert-manager.io/inject-ca-from", cert.GetNamespace()+"/"+cert.GetName()))
	hooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
	g.Expect(hooks).To(gomega.HaveLen(1))
	svcName, _, _ := unstructured.NestedString(hooks[0].(map[string]any), "clientConfig", "service", "name")
	g.Expect(svcName).To(gomega.Equal(svc.GetName()))

	d := &appsv1.Deployment{}
	g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(byKind["Deployment"][0].Object, d)).To(gomega.Succeed())
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	var mounted string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "webhook-certs" {
			mounted = v.Secret.SecretName
		}
	}
	g.Expect(secretName).NotTo(gomega.BeEmpty())
	g.Expect(secretName).To(gomega.Equal(mounted))
	var mode string
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, "--webhook-cert-mode="); ok {
			mode = v // the last one wins, as with Go's flag package
		}
	}
	g.Expect(mode).To(gomega.Equal("cert-manager"))
}

// causeFields returns the field paths of a 422 Invalid error's causes.
func causeFields(err error) []string {
	var fields []string
	if status, ok := err.(apierrors.APIStatus); ok && status.Status().Details != nil {
		for _, c := range status.Status().Details.Causes {
			fields = append(fields, c.Field)
		}
	}
	return fields
}
