package controllers

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// TestRenderedFieldsAreTheServers: for every kind of child the samples
// render, the field set the operator computes for a rendered object
// (changedetect.go) is the one a real API server records for its apply,
// and the digest read through the cache transform is the same, so the
// applied child is recognised as unchanged without a write (and without
// reading the object).
func TestRenderedFieldsAreTheServers(t *testing.T) {
	ctx, _ := envtestOnly(t)
	ns := newNamespace(ctx, t)
	var sets fieldSets
	seen := map[render.Kind]bool{}
	for _, file := range []string{"zmq_v1alpha1_pipeline.yaml", "zmq_v1alpha1_pubsub.yaml", "zmq_v1alpha1_reqrep.yaml"} {
		z := loadSample(t, file, ns)
		z.UID = "00000000-0000-0000-0000-000000000001" // owner references need one; nothing collects here
		objs, err := render.Render(z, renderOpts)
		if err != nil {
			t.Fatal(err)
		}
		if err := stampAppliedHash(objs); err != nil {
			t.Fatal(err)
		}
		// The same render again, never applied: what the next reconcile
		// compares the applied children with.
		fresh, err := render.Render(z, renderOpts)
		if err != nil {
			t.Fatal(err)
		}
		if err := stampAppliedHash(fresh); err != nil {
			t.Fatal(err)
		}
		for i, obj := range objs {
			seen[obj.Kind] = true
			// Before the apply: the client decodes the API server's answer
			// into the apply configuration it sends.
			if err := sets.stampAppliedFields(testScheme, obj); err != nil {
				t.Fatal(err)
			}
			want, err := sets.of(testScheme, obj)
			if err != nil {
				t.Fatal(err)
			}
			stamped := kinds[obj.Kind].meta(obj.Apply).Annotations[render.AnnotationAppliedFields]
			hash := appliedHashOf(obj)
			if err := k8sClient.Apply(ctx, obj.Apply, client.FieldOwner(render.ManagedBy), client.ForceOwnership); err != nil {
				t.Fatalf("%s: applying %s %s: %v", file, obj.Kind, obj.Name, err)
			}
			got := kinds[obj.Kind].newObject()
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: obj.Name}, got); err != nil {
				t.Fatal(err)
			}
			server, err := ownedFieldsOf(got)
			if err != nil {
				t.Fatal(err)
			}
			if server != want || server.digest == "" || server.digest != stamped {
				t.Errorf("%s: %s %s: the server records owned fields %+v, the operator computes %+v and stamped %q", file, obj.Kind, obj.Name, server, want, stamped)
			}
			slim, err := slimChild(got.DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			if cached, err := ownedFieldsOf(slim.(client.Object)); err != nil || cached != server {
				t.Errorf("%s: %s %s: through the cache %+v (%v), from the server %+v", file, obj.Kind, obj.Name, cached, err, server)
			}
			if got.GetAnnotations()[render.AnnotationAppliedHash] != hash {
				t.Errorf("%s: %s %s: applied hash %q, rendered %q", file, obj.Kind, obj.Name, got.GetAnnotations()[render.AnnotationAppliedHash], hash)
			}
			// So the child, from the server or through the cache, needs no
			// write for the same rendered object.
			for from, existing := range map[string]client.Object{"server": got, "cache": slim.(client.Object)} {
				if same, _, err := unchanged(existing, fresh[i]); err != nil || !same {
					t.Errorf("%s: %s %s from the %s: unchanged = %v (%v), want true", file, obj.Kind, obj.Name, from, same, err)
				}
			}
		}
	}
	for _, k := range render.Kinds {
		if !seen[k] {
			t.Errorf("no sample renders a %s: its field set is not checked", k)
		}
	}
}
