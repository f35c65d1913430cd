package v1alpha1

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateSecurity repeats the CRD's enum on spec.security.mechanism for
// objects that never went through admission.
func validateSecurity(t *ZMQTopology) field.ErrorList {
	sec := t.Spec.Security
	if sec == nil {
		return nil
	}
	switch sec.Mechanism {
	case "", MechanismNull, MechanismCurve:
		return nil
	}
	return field.ErrorList{field.NotSupported(field.NewPath("spec", "security", "mechanism"), sec.Mechanism,
		[]SecurityMechanism{MechanismNull, MechanismCurve})}
}
