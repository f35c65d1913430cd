package v1alpha1

import (
	"fmt"
	"strings"
)

// TemplateRule is a CEL validation rule (x-kubernetes-validations) on a
// field of a component's pod template, the admission-time twin of a check
// of validateTemplate.
//
// The rules sit on the fields they check, not on the template: the API
// server evaluates every rule of a custom resource on every write of it,
// status patches included, and a rule on the template that reaches a
// container's name selects its way through the embedded PodSpec, whose
// CEL type the API server rebuilds (a map of its ~40 properties) at each
// selection. On the name itself the rule reads a string. Measured with
// `make bench-scale BENCH_ARGS=--api-cost=1000`, README "Scale".
//
// controller-gen cannot place markers inside core/v1's types, so
// hack/crd-trim writes these rules into the generated CRD. It is no API
// object: no deepcopy.
//
// +kubebuilder:object:generate=false
type TemplateRule struct {
	// Path is the field's schema path below the template (a
	// PodTemplateSpec): property names, "[]" for a list's items. Empty is
	// the template itself.
	Path []string
	// Rule is the CEL expression, with self the field's value.
	Rule string
	// Message is the error message, after the field's path.
	Message string
	// FieldPath, if set, is the field the error names, relative to Path
	// (x-kubernetes-validations fieldPath).
	FieldPath string
	// Reason, if set, is the error's reason (x-kubernetes-validations
	// reason, e.g. FieldValueRequired); unset, FieldValueInvalid.
	Reason string
}

// Messages shared by the CEL rules and validateTemplate, which report each
// problem at the same field with the same reason.
const (
	msgNoContainer       = "a template needs at least one container"
	msgRestartPolicy     = "the restartPolicy of a Deployment's or StatefulSet's pods must be Always"
	msgSidecarContainer  = "reserved for the injected " + SidecarContainerName + " container"
	msgConfigVolume      = "reserved for the volume holding the component's resolved sockets"
	msgCurveVolumePrefix = "names starting with " + CurveVolumePrefix + " are reserved for the CURVE key volumes"
	msgReservedPortName  = "reserved for a port of the operator"
)

var msgSidecarPort = fmt.Sprintf("port %d is reserved for the %s container of every pod", SidecarPort, SidecarContainerName)

// TemplateRules returns the rules of a component's pod template: at least
// one container, restartPolicy Always or unset (a Deployment's and a
// StatefulSet's only), and none of the names and the port that the
// operator adds to every pod (SidecarContainerName, ConfigVolumeName,
// CurveVolumePrefix, SidecarPort, ReservedPortNames), in containers and
// init containers alike.
func TemplateRules() []TemplateRule {
	quoted := make([]string, len(ReservedPortNames))
	for i, n := range ReservedPortNames {
		quoted[i] = fmt.Sprintf("'%s'", n)
	}
	rules := []TemplateRule{
		{Rule: "has(self.spec)", Message: msgNoContainer, FieldPath: ".spec.containers", Reason: "FieldValueRequired"},
		{Path: []string{"spec", "containers"}, Rule: "size(self) > 0", Message: msgNoContainer, Reason: "FieldValueRequired"},
		// Empty is unset: the API server defaults it to Always.
		{Path: []string{"spec", "restartPolicy"}, Rule: "self in ['', 'Always']", Message: msgRestartPolicy},
		{Path: []string{"spec", "volumes", "[]", "name"}, Rule: fmt.Sprintf("self != '%s'", ConfigVolumeName), Message: msgConfigVolume},
		{Path: []string{"spec", "volumes", "[]", "name"}, Rule: fmt.Sprintf("!self.startsWith('%s')", CurveVolumePrefix), Message: msgCurveVolumePrefix},
	}
	for _, list := range []string{"containers", "initContainers"} {
		rules = append(rules,
			TemplateRule{Path: []string{"spec", list, "[]", "name"}, Rule: fmt.Sprintf("self != '%s'", SidecarContainerName), Message: msgSidecarContainer},
			TemplateRule{Path: []string{"spec", list, "[]", "ports", "[]", "containerPort"}, Rule: fmt.Sprintf("self != %d", SidecarPort), Message: msgSidecarPort},
			TemplateRule{Path: []string{"spec", list, "[]", "ports", "[]", "name"}, Rule: fmt.Sprintf("!(self in [%s])", strings.Join(quoted, ", ")), Message: msgReservedPortName},
		)
	}
	return rules
}
