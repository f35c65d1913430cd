package render

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// The injected sidecar container and its port (reserved in api/v1alpha1).
const (
	SidecarContainer = zmqv1.SidecarContainerName
	SidecarPortName  = zmqv1.SidecarPortName
	// SidecarPodNameEnv is the environment variable that gives the agent
	// its pod's name.
	SidecarPodNameEnv = "POD_NAME"
	// defaultProbeInterval applies when spec.sidecar.probeIntervalSeconds
	// is unset (the CRD defaults it to the same value).
	defaultProbeInterval = 5
)

// sidecarContainer renders the zmq-sidecar agent that runs in every pod of
// the topology as a native sidecar (an init container with restartPolicy
// Always, so it starts before the application and stops after it). Its
// /readyz is the pod's readiness: a pod is ready only when every socket its
// component binds answers a ZMTP probe with the expected Socket-Type, so a
// replica joins its Services only once it serves. It returns nil when the
// operator runs without a sidecar image.
func sidecarContainer(t *zmqv1.ZMQTopology, _ *zmqv1.Component, opts Options) *corev1ac.ContainerApplyConfiguration {
	if opts.SidecarImage == "" {
		return nil
	}
	interval := int32(defaultProbeInterval)
	var res *corev1.ResourceRequirements
	if sc := t.Spec.Sidecar; sc != nil {
		if sc.ProbeIntervalSeconds != nil {
			interval = *sc.ProbeIntervalSeconds
		}
		res = sc.Resources
	}
	ctr := corev1ac.Container().
		WithName(SidecarContainer).
		WithImage(opts.SidecarImage).
		WithArgs("agent",
			"--config", zmqconfig.Path,
			"--listen", ":"+strconv.Itoa(zmqv1.SidecarPort),
			"--probe-interval", strconv.Itoa(int(interval))+"s").
		WithRestartPolicy(corev1.ContainerRestartPolicyAlways).
		// The pod's name, from the downward API, names the pod in the
		// agent's /status document (the operator reports broken links by
		// pod).
		WithEnv(corev1ac.EnvVar().
			WithName(SidecarPodNameEnv).
			WithValueFrom(corev1ac.EnvVarSource().
				// apiVersion as the API server defaults it, so that
				// the applied and the stored fields compare equal.
				WithFieldRef(corev1ac.ObjectFieldSelector().WithAPIVersion("v1").WithFieldPath("metadata.name")))).
		WithPorts(corev1ac.ContainerPort().
			WithName(SidecarPortName).
			WithContainerPort(zmqv1.SidecarPort).
			WithProtocol(corev1.ProtocolTCP)).
		WithReadinessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/readyz").WithPort(intstr.FromString(SidecarPortName))).
			WithPeriodSeconds(min(interval, 10)).
			WithTimeoutSeconds(2).
			WithFailureThreshold(2)).
		WithLivenessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/healthz").WithPort(intstr.FromString(SidecarPortName))).
			WithPeriodSeconds(10).
			WithTimeoutSeconds(2).
			WithFailureThreshold(3)).
		WithResources(sidecarResources(res)).
		WithSecurityContext(restrictedContainer()).
		WithVolumeMounts(corev1ac.VolumeMount().
			WithName(configVolume).
			WithMountPath(zmqconfig.MountDir).
			WithReadOnly(true))
	if opts.ImagePullPolicy != "" {
		ctr.WithImagePullPolicy(opts.ImagePullPolicy)
	}
	return ctr
}

func sidecarResources(r *corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	if r != nil {
		return resourcesFrom(r)
	}
	return corev1ac.ResourceRequirements().
		WithRequests(corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("16Mi"),
		}).
		WithLimits(corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("64Mi"),
		})
}
