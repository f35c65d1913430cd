package render

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// This file owns how a device is replaced without losing messages.
//
//  1. Surge before stop: a device's Deployment rolls out with maxSurge 1 and
//     maxUnavailable 0, so the old pod is told to stop only once its
//     replacement is Ready (its sidecar has probed the bound sockets).
//  2. On SIGTERM the device keeps serving for DeviceShutdownDelay, while
//     the endpoints controller and kube-proxy stop sending new connections
//     to the terminating pod.
//  3. Then it drains (zmq-sidecar device --drain-timeout): it stops
//     listening, half-closes its frontend connections (a pkg/zmtp peer
//     finishes the message it is writing, hands what it still queues to
//     its other peers or its reconnection, and closes; the device reads
//     everything already sent until that close), forwards all it received,
//     waits for the replies still owed (Queue), then flushes and
//     half-closes its backend connections the same way, so connected
//     workers reconnect to the new pod.
//  4. The pod's grace period, DeviceTerminationGracePeriod, bounds it all.
//
// A StatefulSet device (more than one replica) cannot surge; its pods are
// replaced one at a time, and connectors that reach every replica keep
// going through the others while one drains.

// Device shutdown timing.
const (
	// DeviceShutdownDelay is how long a device keeps serving after SIGTERM
	// before it drains: the time for Endpoints and kube-proxy to stop
	// routing new connections to it.
	DeviceShutdownDelay = 5 * time.Second
	// DeviceDrainTimeout bounds the drain that follows.
	DeviceDrainTimeout = 20 * time.Second
	// DeviceTerminationGracePeriod is the device pods'
	// terminationGracePeriodSeconds: delay and drain, plus a margin for
	// closing.
	DeviceTerminationGracePeriod = 30 * time.Second
)

// deviceShutdownArgs are the device flags that implement the timing above.
func deviceShutdownArgs() []string {
	return []string{"--shutdown-delay", DeviceShutdownDelay.String(), "--drain-timeout", DeviceDrainTimeout.String()}
}

// deviceGracePeriodSeconds is DeviceTerminationGracePeriod in seconds.
func deviceGracePeriodSeconds() int64 {
	return int64(DeviceTerminationGracePeriod / time.Second)
}

// rolloutStrategy is the Deployment strategy of a component: surge before
// stop for devices, the Kubernetes default otherwise (nil).
func rolloutStrategy(c *zmqv1.Component) *appsv1ac.DeploymentStrategyApplyConfiguration {
	if c.Device == nil {
		return nil
	}
	return appsv1ac.DeploymentStrategy().
		WithType(appsv1.RollingUpdateDeploymentStrategyType).
		WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
			WithMaxUnavailable(intstr.FromInt32(0)).
			WithMaxSurge(intstr.FromInt32(1)))
}
