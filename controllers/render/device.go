package render

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// DeviceContainer is the name of a device pod's container, and
// DeviceMetricsPortName the name of its metrics port (reserved in
// api/v1alpha1).
const (
	DeviceContainer       = zmqv1.DeviceContainerName
	DeviceMetricsPortName = zmqv1.DeviceMetricsPortName
)

// nonRootUID is the user devices and the sidecar run as (distroless
// "nonroot").
const nonRootUID = 65532

// DeviceArgs are the arguments of the zmq-sidecar binary that runs device
// d from the mounted configuration. --io-threads is given only when
// d.IOThreads is set: unset, the binary's own default applies and the
// pod template is what it was before the field existed.
func DeviceArgs(d *zmqv1.DeviceSpec) []string {
	args := []string{"device", strings.ToLower(string(d.Type)), "--config", zmqconfig.Path, "--listen", ":" + strconv.Itoa(zmqv1.DeviceMetricsPort)}
	if d.IOThreads != nil {
		args = append(args, "--io-threads", strconv.Itoa(int(*d.IOThreads)))
	}
	return append(args, deviceShutdownArgs()...)
}

// devicePodTemplate renders the pod of an operator-managed device: one
// container running `zmq-sidecar device <type>` from the sidecar image,
// non-root with a read-only root file system.
func devicePodTemplate(c *zmqv1.Component, opts Options) *corev1ac.PodTemplateSpecApplyConfiguration {
	ctr := corev1ac.Container().
		WithName(DeviceContainer).
		WithImage(opts.SidecarImage).
		WithArgs(DeviceArgs(c.Device)...).
		WithPorts(corev1ac.ContainerPort().
			WithName(DeviceMetricsPortName).
			WithContainerPort(zmqv1.DeviceMetricsPort).
			WithProtocol(corev1.ProtocolTCP)).
		WithResources(deviceResources(c.Device.Resources)).
		WithSecurityContext(restrictedContainer())
	if opts.ImagePullPolicy != "" {
		ctr.WithImagePullPolicy(opts.ImagePullPolicy)
	}
	return corev1ac.PodTemplateSpec().WithSpec(corev1ac.PodSpec().
		WithContainers(ctr).
		WithTerminationGracePeriodSeconds(deviceGracePeriodSeconds()).
		WithSecurityContext(corev1ac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))))
}

func deviceResources(r *corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	if r != nil {
		return resourcesFrom(r)
	}
	return corev1ac.ResourceRequirements().
		WithRequests(corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("50m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		}).
		WithLimits(corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("256Mi"),
		})
}

func resourcesFrom(r *corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	out := corev1ac.ResourceRequirements()
	if len(r.Requests) > 0 {
		out.WithRequests(r.Requests)
	}
	if len(r.Limits) > 0 {
		out.WithLimits(r.Limits)
	}
	return out
}

// restrictedContainer is a security context that meets the "restricted"
// Pod Security Standard.
func restrictedContainer() *corev1ac.SecurityContextApplyConfiguration {
	return corev1ac.SecurityContext().
		WithRunAsNonRoot(true).
		WithRunAsUser(nonRootUID).
		WithReadOnlyRootFilesystem(true).
		WithAllowPrivilegeEscalation(false).
		WithCapabilities(corev1ac.Capabilities().WithDrop("ALL"))
}
