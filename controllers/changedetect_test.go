package controllers

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// fieldsV1 wraps a managed fields set in its wire form.
func fieldsV1(raw string) *metav1.FieldsV1 { return &metav1.FieldsV1{Raw: []byte(raw)} }

func TestSlimChildKeepsWhatTheReconcilerReads(t *testing.T) {
	meta := metav1.ObjectMeta{
		Name: "t-sink", Namespace: "ns", UID: "u", Generation: 3, ResourceVersion: "9",
		Labels:          map[string]string{render.LabelTopology: "t"},
		Annotations:     map[string]string{render.AnnotationAppliedHash: "h", "deployment.kubernetes.io/revision": "2", "someone/else": "x"},
		OwnerReferences: []metav1.OwnerReference{{Name: "t", UID: "o", Controller: ptr.To(true)}},
		ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: fieldsV1(`{"f:status":{}}`)},
			{Manager: render.ManagedBy, Operation: metav1.ManagedFieldsOperationApply, FieldsV1: fieldsV1(`{"f:metadata":{"f:labels":{"f:zmq.topology.dev/topology":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`)},
		},
	}
	d := &appsv1.Deployment{
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](5),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{render.AnnotationCurveKeys: "k", "other": "o"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "img"}}},
			},
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, ReadyReplicas: 4},
	}
	before, err := ownedFieldsOf(d)
	if err != nil {
		t.Fatal(err)
	}
	if before.digest == "" || !before.replicas {
		t.Fatalf("owned fields of the full object: %+v, want a digest and spec.replicas", before)
	}
	out, err := slimChild(d.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*appsv1.Deployment)
	after, err := ownedFieldsOf(got)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("owned fields from the cache %+v, from the object %+v", after, before)
	}
	if got.ManagedFields != nil || got.Spec.Selector != nil || len(got.Spec.Template.Spec.Containers) > 0 {
		t.Errorf("slimChild kept managed fields, selector or pod spec: %+v", got)
	}
	if *got.Spec.Replicas != 5 || !reflect.DeepEqual(got.Status, d.Status) || got.Generation != 3 || got.Name != d.Name || got.UID != d.UID ||
		!reflect.DeepEqual(got.Labels, d.Labels) || !reflect.DeepEqual(got.OwnerReferences, d.OwnerReferences) {
		t.Errorf("slimChild lost what observe reads: %+v", got)
	}
	if want := map[string]string{render.AnnotationCurveKeys: "k"}; !reflect.DeepEqual(got.Spec.Template.Annotations, want) {
		t.Errorf("template annotations %v, want %v", got.Spec.Template.Annotations, want)
	}
	if got.Annotations[render.AnnotationAppliedHash] != "h" || got.Annotations["someone/else"] != "" {
		t.Errorf("annotations %v: want the operator's only", got.Annotations)
	}

	// The digest annotation is trusted only on a cache copy: an object
	// from the API server that carries it (anyone may set annotations) is
	// read from its managed fields.
	forged := d.DeepCopy()
	forged.Annotations[ownedFieldsAnnotation] = "forged"
	if o, err := ownedFieldsOf(forged); err != nil || o != before {
		t.Errorf("forged annotation: %+v, %v; want %+v", o, err, before)
	}

	cm := &corev1.ConfigMap{ObjectMeta: *meta.DeepCopy(), Data: map[string]string{"config.json": "{}"}}
	out, err = slimChild(cm)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*corev1.ConfigMap); got.Data != nil || got.Name != "t-sink" {
		t.Errorf("ConfigMap kept its data or lost its name: %+v", got)
	}
}

func TestUnchangedNeedsBothAnnotations(t *testing.T) {
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", "ns")
	objs, err := render.Render(z, renderOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := stampAppliedHash(objs); err != nil {
		t.Fatal(err)
	}
	obj := objs[0]
	var sets fieldSets
	if err := sets.stampAppliedFields(testScheme, obj); err != nil {
		t.Fatal(err)
	}
	applied := kinds[obj.Kind].meta(obj.Apply).Annotations
	if applied[render.AnnotationAppliedFields] == "" {
		t.Fatal("no applied-fields annotation stamped")
	}
	// A cached child as the operator's apply of obj leaves it.
	cached := func(hash, fields, owned string) client.Object {
		o := kinds[obj.Kind].newObject()
		o.SetAnnotations(map[string]string{
			render.AnnotationAppliedHash:   hash,
			render.AnnotationAppliedFields: fields,
			ownedFieldsAnnotation:          owned,
		})
		return o
	}
	hash, fields := applied[render.AnnotationAppliedHash], applied[render.AnnotationAppliedFields]
	for _, c := range []struct {
		name string
		obj  client.Object
		want bool
	}{
		{"as applied", cached(hash, fields, fields), true},
		{"rendered differently", cached("other", fields, fields), false},
		{"a field taken by another manager", cached(hash, fields, "fewer"), false},
		{"no applied-fields annotation (an earlier version)", cached(hash, "", fields), false},
		{"no owned fields", cached(hash, "", ""), false},
	} {
		if got, _, err := unchanged(c.obj, obj); err != nil || got != c.want {
			t.Errorf("%s: unchanged = %v (%v), want %v", c.name, got, err, c.want)
		}
	}
	// The hash leaves both annotations out: stamping again changes nothing.
	if err := stampAppliedHash(objs[:1]); err != nil || kinds[obj.Kind].meta(obj.Apply).Annotations[render.AnnotationAppliedHash] != hash {
		t.Errorf("hash after a second stamp: %q (%v), want %q", kinds[obj.Kind].meta(obj.Apply).Annotations[render.AnnotationAppliedHash], err, hash)
	}
}

func TestSlimChildIsIdempotent(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: []metav1.ManagedFieldsEntry{
		{Manager: render.ManagedBy, Operation: metav1.ManagedFieldsOperationApply, FieldsV1: fieldsV1(`{"f:data":{"f:a":{}}}`)},
	}}, Data: map[string]string{"a": "b"}}
	want, err := ownedFieldsOf(cm)
	if err != nil {
		t.Fatal(err)
	}
	once, err := slimChild(cm.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	twice, err := slimChild(once.(*corev1.ConfigMap).DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(once, twice) {
		t.Errorf("a second pass changed the object:\n%+v\n%+v", once, twice)
	}
	if got, err := ownedFieldsOf(twice.(*corev1.ConfigMap)); err != nil || got != want || want.digest == "" {
		t.Errorf("after two passes: %+v (%v), want %+v", got, err, want)
	}
}
