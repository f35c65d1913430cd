package controllers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// This file decides whether a child needs a write without holding the
// child in memory. The manager's cache keeps of each child only what the
// reconciler reads (slimChild), and two annotations the operator writes on
// every child stand for the rest:
//
//  1. render.AnnotationAppliedHash: a hash of the object the operator
//     applied last (stampAppliedHash). Equal to the hash of the rendered
//     object, the operator's last apply was this very object.
//  2. render.AnnotationAppliedFields: a digest of the set of fields that
//     object sets, as the API server records it in managedFields
//     (stampAppliedFields, computed only for children being written).
//     Server-side apply gives the applier exactly the fields of its last
//     apply, and any other writer that changes one of them takes it away.
//     Equal to the digest of the fields the operator's field manager owns
//     now, nobody has changed any of them since.
//
// Both equal: nothing to write. Otherwise the child is applied, which
// restores it. What is compared lives on the child itself, so nothing is
// kept in memory across reconciles and a restarted operator recomputes
// nothing. A child written by an operator version without these
// annotations is applied once to add them.

// ownedFieldsAnnotation holds, on the cached copy of a child only, the
// digest of the fields the operator owns (slimChild). It is never written
// to the API server: the cache's copies are read, never sent.
const ownedFieldsAnnotation = "cache.zmq.topology.dev/owned-fields"

// ownsReplicasSuffix ends ownedFieldsAnnotation's value when the owned
// fields include spec.replicas (replicas_handover.go reads it).
const ownsReplicasSuffix = ";spec.replicas"

// stripFields are the fields the API server leaves out of every field
// manager's set (the apiserver's managed-fields "strip meta" set): a
// rendered object's set is compared without them.
var stripFields = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

var replicasPath = fieldpath.MakePathOrDie("spec", "replicas")

// stampAppliedHash sets render.AnnotationAppliedHash on every rendered
// object: the SHA-256 (hex, first 16 bytes) of its JSON form without that
// annotation and without render.AnnotationAppliedFields.
func stampAppliedHash(objs []render.Object) error {
	for _, obj := range objs {
		meta := kinds[obj.Kind].meta(obj.Apply)
		delete(meta.Annotations, render.AnnotationAppliedHash)
		delete(meta.Annotations, render.AnnotationAppliedFields)
		raw, err := json.Marshal(obj.Apply)
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", obj.Kind, obj.Name, err)
		}
		sum := sha256.Sum256(raw)
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[render.AnnotationAppliedHash] = hex.EncodeToString(sum[:16])
	}
	return nil
}

// appliedHashOf returns the hash stamped on a rendered object.
func appliedHashOf(obj render.Object) string {
	return kinds[obj.Kind].meta(obj.Apply).Annotations[render.AnnotationAppliedHash]
}

// ownedFields is what change detection knows of the fields the operator
// owns in a child.
type ownedFields struct {
	digest   string // of the owned field set; "" when it owns none
	replicas bool   // spec.replicas is among them
}

// ownedFieldsOf reads the fields the operator owns in a child: from the
// cache's digest when the child comes from the cache (slimChild), else
// from its managedFields.
func ownedFieldsOf(obj metav1.Object) (ownedFields, error) {
	if v, slim := slimmed(obj); slim {
		digest, replicas := strings.CutSuffix(v, ownsReplicasSuffix)
		return ownedFields{digest: digest, replicas: replicas}, nil
	}
	return ownedFieldsIn(obj.GetManagedFields())
}

// slimmed returns the ownedFieldsAnnotation of a child that went through
// slimChild. Objects from the API server always carry managed fields; only
// the cache's copies have none, and only there is the annotation trusted.
func slimmed(obj metav1.Object) (string, bool) {
	v, ok := obj.GetAnnotations()[ownedFieldsAnnotation]
	return v, ok && len(obj.GetManagedFields()) == 0
}

// ownedFieldsIn reads the operator's apply entry among managed fields.
func ownedFieldsIn(entries []metav1.ManagedFieldsEntry) (ownedFields, error) {
	for _, e := range entries {
		if e.Manager != render.ManagedBy || e.Operation != metav1.ManagedFieldsOperationApply || e.Subresource != "" || e.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return ownedFields{}, fmt.Errorf("reading the fields %s owns: %w", render.ManagedBy, err)
		}
		return digestOf(set)
	}
	return ownedFields{}, nil
}

// digestOf is the SHA-256 (hex, first 16 bytes) of a field set's canonical
// JSON form.
func digestOf(set *fieldpath.Set) (ownedFields, error) {
	raw, err := set.ToJSON()
	if err != nil {
		return ownedFields{}, err
	}
	sum := sha256.Sum256(raw)
	return ownedFields{digest: hex.EncodeToString(sum[:16]), replicas: set.Has(replicasPath)}, nil
}

// fieldSets computes the field sets of rendered objects, as the API server
// records them for their apply. Typing an object against the schema takes
// about half a millisecond, so it is done only for children being written.
type fieldSets struct {
	once sync.Once
	tc   managedfields.TypeConverter
}

// stampAppliedFields sets render.AnnotationAppliedFields on a rendered
// object about to be written: the digest of the fields its apply gives the
// operator's field manager (that annotation's own key among them).
func (f *fieldSets) stampAppliedFields(scheme *runtime.Scheme, obj render.Object) error {
	meta := kinds[obj.Kind].meta(obj.Apply)
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[render.AnnotationAppliedFields] = "" // its key is one of the fields
	fields, err := f.of(scheme, obj)
	if err != nil {
		return err
	}
	meta.Annotations[render.AnnotationAppliedFields] = fields.digest
	return nil
}

// of returns the fields the API server records as the operator's when it
// applies obj.
func (f *fieldSets) of(scheme *runtime.Scheme, obj render.Object) (ownedFields, error) {
	f.once.Do(func() { f.tc = applyconfigurations.NewTypeConverter(scheme) })
	m, err := toJSONMap(obj.Apply)
	if err != nil {
		return ownedFields{}, fmt.Errorf("encoding %s %s: %w", obj.Kind, obj.Name, err)
	}
	tv, err := f.tc.ObjectToTyped(&unstructured.Unstructured{Object: m})
	if err != nil {
		return ownedFields{}, fmt.Errorf("typing %s %s: %w", obj.Kind, obj.Name, err)
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		return ownedFields{}, fmt.Errorf("listing the fields of %s %s: %w", obj.Kind, obj.Name, err)
	}
	return digestOf(set.Difference(stripFields))
}

// unchanged reports whether a child the topology controls needs no write
// for obj, and what the operator owns in it.
func unchanged(existing client.Object, obj render.Object) (bool, ownedFields, error) {
	owned, err := ownedFieldsOf(existing)
	if err != nil || owned.digest == "" {
		return false, owned, err
	}
	a := existing.GetAnnotations()
	if a[render.AnnotationAppliedHash] != appliedHashOf(obj) {
		return false, owned, nil
	}
	return a[render.AnnotationAppliedFields] == owned.digest, owned, nil
}

// slimChild is the cache transform of the child kinds, idempotent. It
// keeps what the reconciler reads of a child: identity, labels, owner
// references, the operator's annotations, a workload's spec.replicas, its
// pod template's CURVE keys digest and its status. The operator's managedFields entry is
// replaced by the digest of the fields it owns (ownedFieldsAnnotation);
// the other entries, the other annotations and the rest of the spec (pod
// templates, ConfigMap data, policy rules) are dropped.
func slimChild(obj any) (any, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return obj, nil
	}
	// Informers may pass an object through the transform twice (client-go
	// asks transforms to be idempotent): one already slim has no managed
	// fields left to read, and keeps its digest.
	if _, slim := slimmed(o); slim {
		return o, nil
	}
	owned, err := ownedFieldsIn(o.GetManagedFields())
	if err != nil {
		return nil, err
	}
	annotations := map[string]string{}
	for k, v := range o.GetAnnotations() {
		if strings.HasPrefix(k, "zmq.topology.dev/") {
			annotations[k] = v
		}
	}
	v := owned.digest
	if owned.replicas {
		v += ownsReplicasSuffix
	}
	annotations[ownedFieldsAnnotation] = v
	o.SetAnnotations(annotations)
	o.SetManagedFields(nil)
	switch x := o.(type) {
	case *appsv1.Deployment:
		x.Spec = appsv1.DeploymentSpec{Replicas: x.Spec.Replicas, Template: slimTemplate(x.Spec.Template)}
	case *appsv1.StatefulSet:
		x.Spec = appsv1.StatefulSetSpec{Replicas: x.Spec.Replicas, Template: slimTemplate(x.Spec.Template)}
	case *corev1.ConfigMap:
		x.Data, x.BinaryData = nil, nil
	case *corev1.Service:
		x.Spec = corev1.ServiceSpec{}
	case *policyv1.PodDisruptionBudget:
		x.Spec = policyv1.PodDisruptionBudgetSpec{}
	case *networkingv1.NetworkPolicy:
		x.Spec = networkingv1.NetworkPolicySpec{}
	}
	return o, nil
}

// slimTemplate keeps a pod template's CURVE keys digest (phase_keys.go).
func slimTemplate(t corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	v, ok := t.Annotations[render.AnnotationCurveKeys]
	if !ok {
		return corev1.PodTemplateSpec{}
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{render.AnnotationCurveKeys: v}}}
}
