package controllers

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

func TestWatchNamespaces(t *testing.T) {
	for _, c := range []struct {
		flag, env string
		want      []string
	}{
		{"", "", nil},
		{"", "a", []string{"a"}},
		{"a,b", "c", []string{"a", "b"}}, // the flag wins
		{" a , ,b,a ", "", []string{"a", "b"}},
		{" ", "x, y", []string{"x", "y"}},
	} {
		if got := WatchNamespaces(c.flag, c.env); !reflect.DeepEqual(got, c.want) {
			t.Errorf("WatchNamespaces(%q, %q) = %q, want %q", c.flag, c.env, got, c.want)
		}
	}
	if o := CacheOptions(); o.DefaultNamespaces != nil {
		t.Errorf("cluster-wide: DefaultNamespaces = %v, want none", o.DefaultNamespaces)
	}
	if o := CacheOptions("a", "b"); len(o.DefaultNamespaces) != 2 || len(o.ByObject) != len(kinds)+1 || o.DefaultTransform == nil { // the child kinds and pods; topologies by the default transform
		t.Errorf("namespaced: %+v", o)
	}
}

func TestKeepIdentity(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name:            "x",
		UID:             "u",
		Labels:          map[string]string{"a": "b"},
		Annotations:     map[string]string{"c": "d"},
		OwnerReferences: []metav1.OwnerReference{{Name: "t", UID: "o", Controller: ptr.To(true)}},
		ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate},
			{Manager: render.ManagedBy, Operation: metav1.ManagedFieldsOperationApply},
		},
	}}
	out, err := keepIdentity(cm.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.ConfigMap)
	if got.Labels != nil || got.Annotations != nil || got.ManagedFields != nil {
		t.Errorf("keepIdentity kept %+v", got.ObjectMeta)
	}
	if got.Name != "x" || got.UID != "u" || !reflect.DeepEqual(got.OwnerReferences, cm.OwnerReferences) {
		t.Errorf("keepIdentity lost the identity: %+v", got.ObjectMeta)
	}
}

func TestSlimTopology(t *testing.T) {
	z := &zmqv1.ZMQTopology{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "t",
			Annotations: map[string]string{lastAppliedAnnotation: "{}", zmqv1.AnnotationRotate: "true"},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply},
			},
		},
		Spec: zmqv1.ZMQTopologySpec{Components: []zmqv1.Component{{Name: "c"}}},
	}
	in := z.DeepCopy()
	out, err := slimTopology(in)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*zmqv1.ZMQTopology)
	want := z.DeepCopy()
	want.ManagedFields = nil
	want.Annotations = map[string]string{zmqv1.AnnotationRotate: "true"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("slimTopology = %+v, want %+v", got, want)
	}
	again, err := slimTopology(got.DeepCopy())
	if err != nil || !reflect.DeepEqual(again, want) {
		t.Errorf("slimTopology is not idempotent: %+v, %v", again, err)
	}
	// Anything else (the default transform sees every kind without one of
	// its own) is left alone.
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{lastAppliedAnnotation: "{}"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	if out, err := slimTopology(sec.DeepCopy()); err != nil || !reflect.DeepEqual(out, sec) {
		t.Errorf("slimTopology changed a Secret: %+v, %v", out, err)
	}
}
