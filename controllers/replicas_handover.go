package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// This file hands a workload's spec.replicas from the operator's field
// manager to render.ReplicasHandoverManager when a component's replicas
// are owned by someone else (autoscaling.mode External); render/replicas.go
// explains why the hand-over is needed.

// replicasToHandOver returns the count to hand over when the operator's
// field manager still owns spec.replicas of an existing workload (the
// component just switched to External): the workload's current count, so
// nothing changes. nil when the operator no longer owns the field.
func replicasToHandOver(owned ownedFields, existing client.Object) *int32 {
	if !owned.replicas {
		return nil
	}
	n := int32(1)
	if d, ok := existing.(*appsv1.Deployment); ok && d.Spec.Replicas != nil {
		n = *d.Spec.Replicas
	}
	return &n
}

// createWithReplicas creates a workload with the operator's field manager
// and an initial spec.replicas, which the following hand-over and apply
// pass on, so the workload never starts with the default of one replica.
func (r *ZMQTopologyReconciler) createWithReplicas(ctx context.Context, obj render.Object, replicas int32) error {
	m, err := toJSONMap(obj.Apply)
	if err != nil {
		return fmt.Errorf("encoding %s %s: %w", obj.Kind, obj.Name, err)
	}
	if err := unstructured.SetNestedField(m, int64(replicas), "spec", "replicas"); err != nil {
		return fmt.Errorf("setting replicas of %s %s: %w", obj.Kind, obj.Name, err)
	}
	return r.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: m}),
		client.FieldOwner(render.ManagedBy), client.ForceOwnership)
}

// handOverReplicas applies spec.replicas alone under the hand-over field
// manager, without force: it then shares the field at its current value,
// and a concurrent change by an autoscaler is a conflict (retried), never
// overwritten.
func (r *ZMQTopologyReconciler) handOverReplicas(ctx context.Context, namespace string, obj render.Object, replicas int32) error {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": appsv1.SchemeGroupVersion.String(),
		"kind":       string(obj.Kind),
		"metadata":   map[string]any{"name": obj.Name, "namespace": namespace},
		"spec":       map[string]any{"replicas": int64(replicas)},
	}}
	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(render.ReplicasHandoverManager)); err != nil {
		return fmt.Errorf("handing spec.replicas of %s %s over to %s: %w", obj.Kind, obj.Name, render.ReplicasHandoverManager, err)
	}
	return nil
}
