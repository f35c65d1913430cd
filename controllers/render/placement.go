package render

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// This file owns where a component's pods run: a device's
// device.template fields, and the default spread over nodes.

// HostnameTopologyKey is the node label the default spread uses.
const HostnameTopologyKey = corev1.LabelHostname

// placePods merges a device's template (affinity, tolerations,
// nodeSelector, priorityClassName, topologySpreadConstraints,
// imagePullSecrets) into its pod spec, and gives a component whose
// replicas are each a peer of their own (a StatefulSet binder, or a device
// with more than one replica) a soft spread over nodes, unless its
// template has spread constraints of its own: losing one node then takes
// one replica, not all of them, and ScheduleAnyway never leaves a pod
// pending on a single-node cluster.
func placePods(spec *corev1ac.PodSpecApplyConfiguration, t *zmqv1.ZMQTopology, c *zmqv1.Component) error {
	if c.Device != nil && c.Device.Template != nil {
		if err := mergeDevicePlacement(spec, &c.Device.Template.Spec); err != nil {
			return fmt.Errorf("component %q: device.template: %w", c.Name, err)
		}
	}
	if len(spec.TopologySpreadConstraints) == 0 && spreadsByDefault(c) {
		spec.WithTopologySpreadConstraints(defaultSpread(t, c))
	}
	return nil
}

// spreadsByDefault reports whether the component's pods get the default
// soft spread over nodes.
func spreadsByDefault(c *zmqv1.Component) bool {
	return PerReplica(c) || (c.Device != nil && Replicas(c) > 1)
}

// defaultSpread is one soft constraint: at most one pod more on any node
// than on another, as far as the scheduler can manage.
func defaultSpread(t *zmqv1.ZMQTopology, c *zmqv1.Component) *corev1ac.TopologySpreadConstraintApplyConfiguration {
	return corev1ac.TopologySpreadConstraint().
		WithMaxSkew(1).
		WithTopologyKey(HostnameTopologyKey).
		WithWhenUnsatisfiable(corev1.ScheduleAnyway).
		WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(t, c)))
}

// mergeDevicePlacement copies the set fields of a device template into the
// device's pod spec (which the operator renders without any of them).
func mergeDevicePlacement(spec *corev1ac.PodSpecApplyConfiguration, in *zmqv1.DevicePodSpec) error {
	// The typed fields and the apply configurations share one JSON form.
	var part corev1ac.PodSpecApplyConfiguration
	raw, err := json.Marshal(corev1.PodSpec{
		Affinity:                  in.Affinity,
		Tolerations:               in.Tolerations,
		NodeSelector:              in.NodeSelector,
		PriorityClassName:         in.PriorityClassName,
		TopologySpreadConstraints: in.TopologySpreadConstraints,
		ImagePullSecrets:          in.ImagePullSecrets,
	})
	if err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	if err := json.Unmarshal(raw, &part); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	spec.Affinity = part.Affinity
	spec.Tolerations = part.Tolerations
	spec.NodeSelector = part.NodeSelector
	spec.PriorityClassName = part.PriorityClassName
	spec.TopologySpreadConstraints = part.TopologySpreadConstraints
	spec.ImagePullSecrets = part.ImagePullSecrets
	return nil
}
