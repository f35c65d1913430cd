// Package v1alpha1 contains the ZMQTopology API of the zmq.topology.dev group:
// the types, their validation (OpenAPI and CEL markers for rules local to an
// object, Validate for rules over the whole graph) and the ZeroMQ socket-type
// compatibility table.
//
// +kubebuilder:object:generate=true
// +groupName=zmq.topology.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "zmq.topology.dev", Version: "v1alpha1"}

	// SchemeBuilder registers this API's types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this API's types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
