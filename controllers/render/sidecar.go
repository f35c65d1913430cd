package render

import (
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// sidecarContainer is the hook that injects the zmq-sidecar agent into every
// pod of the topology as a native sidecar (an init container with
// restartPolicy Always), together with the pod's readiness probe on the
// agent's /readyz. It returns nil, injecting nothing, until the agent exists
// (tracked by the sidecar issue); PodTemplate already appends whatever it
// returns to the pod's init containers.
func sidecarContainer(_ *zmqv1.ZMQTopology, _ *zmqv1.Component, _ Options) *corev1ac.ContainerApplyConfiguration {
	return nil
}
