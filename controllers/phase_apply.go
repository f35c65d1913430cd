package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// apply writes each desired child that differs from what the operator last
// applied, with server-side apply. Unchanged children cost no write: the
// fields the operator owns are extracted from the cached object and compared
// with the rendered ones, so a no-op reconcile sends nothing, while an edit
// by someone else (which takes those fields from our field manager) or a
// deleted child is written back.
func (r *ZMQTopologyReconciler) apply(ctx context.Context, s *scope) error {
	if len(s.invalid) > 0 || s.topology.Spec.Paused {
		return nil
	}
	for _, obj := range s.desired {
		op, err := r.applyObject(ctx, s.topology, obj)
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			// The namespace is going away with the topology in it; nothing
			// to repair and nobody to tell.
			logf.FromContext(ctx).V(1).Info("namespace terminating; not applying children")
			return nil
		}
		if err != nil {
			s.applyErr = fmt.Errorf("applying %s %s: %w", obj.Kind, obj.Name, err)
			r.Recorder.Eventf(s.topology, nil, corev1.EventTypeWarning, zmqv1.ReasonApplyFailed, "Apply", "%s", s.applyErr.Error())
			return nil
		}
		if op != "" {
			logf.FromContext(ctx).Info(op+" child", "kind", obj.Kind, "name", obj.Name)
			r.Recorder.Eventf(s.topology, nil, corev1.EventTypeNormal, op, op, "%s %s %s", op, obj.Kind, obj.Name)
		}
	}
	return nil
}

// applyObject applies obj if it is missing or differs from what the
// operator owns, and says what it did: "Created", "Updated" or "" (nothing).
func (r *ZMQTopologyReconciler) applyObject(ctx context.Context, owner *zmqv1.ZMQTopology, obj render.Object) (string, error) {
	ops := kinds[obj.Kind]
	key := client.ObjectKey{Namespace: owner.Namespace, Name: obj.Name}
	existing := ops.newObject()
	op := "Updated"
	err := r.Get(ctx, key, existing)
	if apierrors.IsNotFound(err) && r.APIReader != nil {
		// The cache only holds labelled children; make sure the name is not
		// taken by an object of someone else before applying over it.
		err = r.APIReader.Get(ctx, key, existing)
	}
	switch {
	case apierrors.IsNotFound(err):
		op = "Created"
	case err != nil:
		return "", err
	case !metav1.IsControlledBy(existing, owner):
		return "", fmt.Errorf("%s %s already exists and is not controlled by this topology", obj.Kind, obj.Name)
	default:
		owned, err := ops.extract(existing)
		if err != nil {
			return "", fmt.Errorf("extracting owned fields: %w", err)
		}
		same, err := sameJSON(owned, obj.Apply)
		if err != nil {
			return "", err
		}
		if same {
			return "", nil
		}
	}
	if err := r.Apply(ctx, obj.Apply, client.FieldOwner(render.ManagedBy), client.ForceOwnership); err != nil {
		return "", err
	}
	return op, nil
}

// sameJSON compares two apply configurations by their JSON form, the form
// in which the API server receives them.
func sameJSON(a, b runtime.ApplyConfiguration) (bool, error) {
	var va, vb any
	for _, p := range []struct {
		in  runtime.ApplyConfiguration
		out *any
	}{{a, &va}, {b, &vb}} {
		raw, err := json.Marshal(p.in)
		if err != nil {
			return false, fmt.Errorf("encoding apply configuration: %w", err)
		}
		if err := json.Unmarshal(raw, p.out); err != nil {
			return false, fmt.Errorf("decoding apply configuration: %w", err)
		}
	}
	return reflect.DeepEqual(va, vb), nil
}
