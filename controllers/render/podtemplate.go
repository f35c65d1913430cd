package render

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// configVolume is the name of the pod volume holding the component's
// zmqconfig file (reserved in api/v1alpha1).
const configVolume = zmqv1.ConfigVolumeName

// PodTemplate renders the pod template of a component: the user's template
// (or the device's) with the topology's labels, the resolved sockets as
// environment variables and a mounted file in every container, a container
// port per bound socket, and the sidecar.
func PodTemplate(t *zmqv1.ZMQTopology, c *zmqv1.Component, cfg *zmqconfig.Config, opts Options) (*corev1ac.PodTemplateSpecApplyConfiguration, error) {
	var tpl *corev1ac.PodTemplateSpecApplyConfiguration
	if c.Device != nil {
		tpl = devicePodTemplate(c, opts)
	} else {
		var err error
		if tpl, err = userPodTemplate(c.Template); err != nil {
			return nil, fmt.Errorf("component %q: %w", c.Name, err)
		}
	}
	tpl.WithLabels(Labels(t, c))
	tpl.Spec.WithVolumes(corev1ac.Volume().
		WithName(configVolume).
		WithConfigMap(corev1ac.ConfigMapVolumeSource().WithName(ConfigMapName(t, c))))

	if hash, ok, err := configHash(c, cfg); err != nil {
		return nil, fmt.Errorf("component %q: %w", c.Name, err)
	} else if ok {
		tpl.WithAnnotations(map[string]string{AnnotationConfigHash: hash})
	}
	env, unset := templateEnv(c, cfg)
	for i := range tpl.Spec.Containers {
		injectSockets(&tpl.Spec.Containers[i], envVars(env), unset)
	}
	addBoundPorts(tpl.Spec, c)
	if err := placePods(tpl.Spec, t, c); err != nil {
		return nil, err
	}
	addPullSecrets(tpl.Spec, opts.DefaultImagePullSecrets)
	if sc := sidecarContainer(t, c, opts); sc != nil {
		tpl.Spec.InitContainers = append(tpl.Spec.InitContainers, *sc)
	}
	return tpl, nil
}

// addPullSecrets appends each of names to the pod's image pull secrets
// unless the pod already lists it.
func addPullSecrets(spec *corev1ac.PodSpecApplyConfiguration, names []string) {
	have := map[string]bool{}
	for _, r := range spec.ImagePullSecrets {
		if r.Name != nil {
			have[*r.Name] = true
		}
	}
	for _, n := range names {
		if n == "" || have[n] {
			continue
		}
		have[n] = true
		spec.WithImagePullSecrets(corev1ac.LocalObjectReference().WithName(n))
	}
}

// userPodTemplate converts the user's typed template into an apply
// configuration: both share one JSON form.
func userPodTemplate(in *corev1.PodTemplateSpec) (*corev1ac.PodTemplateSpecApplyConfiguration, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encoding pod template: %w", err)
	}
	out := corev1ac.PodTemplateSpec()
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("decoding pod template: %w", err)
	}
	if out.Spec == nil {
		out.WithSpec(corev1ac.PodSpec())
	}
	return out, nil
}

func envVars(env []zmqconfig.Env) []*corev1ac.EnvVarApplyConfiguration {
	out := make([]*corev1ac.EnvVarApplyConfiguration, len(env))
	for i, e := range env {
		out[i] = corev1ac.EnvVar().WithName(e.Name).WithValue(e.Value)
	}
	return out
}

// injectSockets gives a container the socket environment (replacing any
// variable of the same name the user set, and removing those named in
// unset: the topology is the source of truth for endpoints) and mounts the
// config file, unless the user already mounts something at
// zmqconfig.MountDir.
func injectSockets(ctr *corev1ac.ContainerApplyConfiguration, env []*corev1ac.EnvVarApplyConfiguration, unset []string) {
	ours := make(map[string]bool, len(env)+len(unset))
	for _, e := range env {
		ours[*e.Name] = true
	}
	for _, n := range unset {
		ours[n] = true
	}
	kept := ctr.Env[:0]
	for _, e := range ctr.Env {
		if e.Name == nil || !ours[*e.Name] {
			kept = append(kept, e)
		}
	}
	ctr.Env = kept
	ctr.WithEnv(env...)

	for _, m := range ctr.VolumeMounts {
		if m.MountPath != nil && *m.MountPath == zmqconfig.MountDir {
			return
		}
	}
	ctr.WithVolumeMounts(corev1ac.VolumeMount().
		WithName(configVolume).
		WithMountPath(zmqconfig.MountDir).
		WithReadOnly(true))
}

// addBoundPorts declares each bound socket's port, named after the socket,
// on the first container, unless a container already declares that port.
// Which container binds is the application's business; the declaration
// documents the pod and names the port for probes and Services.
func addBoundPorts(spec *corev1ac.PodSpecApplyConfiguration, c *zmqv1.Component) {
	if len(spec.Containers) == 0 {
		return
	}
	declared := map[int32]bool{}
	for _, ctr := range spec.Containers {
		for _, p := range ctr.Ports {
			if p.ContainerPort != nil {
				declared[*p.ContainerPort] = true
			}
		}
	}
	for _, s := range c.Sockets {
		if s.Bind == nil || declared[s.Bind.Port] {
			continue
		}
		spec.Containers[0].WithPorts(corev1ac.ContainerPort().
			WithName(s.Name).
			WithContainerPort(s.Bind.Port).
			WithProtocol(corev1.ProtocolTCP))
	}
}
