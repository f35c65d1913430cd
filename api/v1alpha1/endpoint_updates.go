package v1alpha1

import "k8s.io/apimachinery/pkg/util/validation/field"

// EndpointUpdatePolicy is how a component's pods follow a change of the
// endpoints they connect to (see Component.EndpointUpdates).
// +kubebuilder:validation:Enum=Restart;Live
type EndpointUpdatePolicy string

// The endpoint update policies.
const (
	// EndpointUpdatesRestart puts connect endpoints in the pod template, so
	// a change of them rolls the component's pods. The default.
	EndpointUpdatesRestart EndpointUpdatePolicy = "Restart"
	// EndpointUpdatesLive keeps connect endpoints out of the pod template;
	// the pods follow the mounted configuration file as the kubelet
	// updates it.
	EndpointUpdatesLive EndpointUpdatePolicy = "Live"
)

// EndpointUpdatePolicies lists the supported policies, in the order of the
// CRD's enum.
var EndpointUpdatePolicies = []EndpointUpdatePolicy{EndpointUpdatesRestart, EndpointUpdatesLive}

// LiveEndpoints reports whether c's pods follow endpoint changes in place
// (endpointUpdates: Live); unset means Restart.
func (c *Component) LiveEndpoints() bool {
	return c.EndpointUpdates == EndpointUpdatesLive
}

// validateEndpointUpdates repeats the CRD's enum of endpointUpdates for
// objects that never went through admission.
func validateEndpointUpdates(c *Component, path *field.Path) field.ErrorList {
	switch c.EndpointUpdates {
	case "", EndpointUpdatesRestart, EndpointUpdatesLive:
		return nil
	}
	return field.ErrorList{field.NotSupported(path.Child("endpointUpdates"), c.EndpointUpdates, EndpointUpdatePolicies)}
}
