// Package v1alpha1 is the validating admission webhook of ZMQTopology
// v1alpha1. It is wiring only: the rules are (*ZMQTopology).Validate in
// api/v1alpha1, the same function the controller runs as a backstop, so a
// graph error that CEL cannot express (a dangling connect, an incompatible
// socket pair) is refused at `kubectl apply` with its field path instead of
// being admitted and reported later as Ready=False, reason InvalidSpec.
package v1alpha1

import (
	"context"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// The marker generates config/webhook/manifests.yaml (make manifests).
// Only create and update are sent: deleting a topology is always allowed,
// and status writes go to the status subresource, which the rule does not
// match. The short timeout bounds how long an apply waits on a slow webhook.
// +kubebuilder:webhook:path=/validate-zmq-topology-dev-v1alpha1-zmqtopology,mutating=false,failurePolicy=fail,sideEffects=None,groups=zmq.topology.dev,resources=zmqtopologies,verbs=create;update,versions=v1alpha1,name=vzmqtopology-v1alpha1.zmq.topology.dev,admissionReviewVersions=v1,timeoutSeconds=5

// SetupZMQTopologyWebhookWithManager registers the validating webhook with
// the manager's webhook server, at the path of the marker above.
func SetupZMQTopologyWebhookWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &zmqv1.ZMQTopology{}).
		WithValidator(ZMQTopologyValidator{}).
		Complete()
}

// ZMQTopologyValidator refuses a ZMQTopology whose spec breaks the graph
// rules of (*ZMQTopology).Validate. It holds no state.
type ZMQTopologyValidator struct{}

var _ admission.Validator[*zmqv1.ZMQTopology] = ZMQTopologyValidator{}

// ValidateCreate refuses a new topology that fails Validate.
func (ZMQTopologyValidator) ValidateCreate(_ context.Context, t *zmqv1.ZMQTopology) (admission.Warnings, error) {
	return nil, invalid(t)
}

// ValidateUpdate refuses an update whose new spec fails Validate. An update
// that leaves the spec as it was is allowed whatever the spec says: a
// topology stored before this webhook was installed (or before a rule was
// added to Validate) may hold a spec that is invalid today, and refusing a
// change to its labels, annotations or finalizers would leave it impossible
// to label, hand over or delete with a finalizer. The controller's own
// Validate still reports such a spec as InvalidSpec.
func (ZMQTopologyValidator) ValidateUpdate(_ context.Context, old, t *zmqv1.ZMQTopology) (admission.Warnings, error) {
	if apiequality.Semantic.DeepEqual(old.Spec, t.Spec) {
		return nil, nil
	}
	return nil, invalid(t)
}

// ValidateDelete allows every delete (the webhook is not registered for
// deletes; this is for completeness of the interface).
func (ZMQTopologyValidator) ValidateDelete(context.Context, *zmqv1.ZMQTopology) (admission.Warnings, error) {
	return nil, nil
}

// invalid returns Validate's errors as one 422 Invalid status carrying every
// field path, which kubectl prints one per line, or nil when there are none.
func invalid(t *zmqv1.ZMQTopology) error {
	errs := t.Validate()
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(zmqv1.GroupVersion.WithKind("ZMQTopology").GroupKind(), t.Name, errs)
}
