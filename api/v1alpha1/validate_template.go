package v1alpha1

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateTemplate checks a user's pod template against what the operator
// adds to it (the sidecar container, the config volume, a port per bound
// socket, its labels) and against what a Deployment or StatefulSet
// requires, so that the workload is never refused. TemplateRules repeat
// these checks at admission, at the same fields with the same messages,
// but for the port named after a bound socket, which spans the template
// and the sockets and is the webhook's.
func validateTemplate(c *Component, path *field.Path) field.ErrorList {
	if c.Template == nil {
		return nil
	}
	tp := path.Child("template")
	sp := tp.Child("spec")
	spec := &c.Template.Spec
	var errs field.ErrorList
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(sp.Child("containers"), msgNoContainer))
	}
	if spec.RestartPolicy != "" && spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.Invalid(sp.Child("restartPolicy"), spec.RestartPolicy, msgRestartPolicy))
	}
	bound := map[string]int32{}
	for _, s := range c.Sockets {
		if s.Bind != nil {
			bound[s.Name] = s.Bind.Port
		}
	}
	for i := range spec.Containers {
		errs = append(errs, validateContainer(&spec.Containers[i], sp.Child("containers").Index(i), bound)...)
	}
	for i := range spec.InitContainers {
		errs = append(errs, validateContainer(&spec.InitContainers[i], sp.Child("initContainers").Index(i), nil)...)
	}
	for i, v := range spec.Volumes {
		if v.Name == ConfigVolumeName {
			errs = append(errs, field.Invalid(sp.Child("volumes").Index(i).Child("name"), v.Name,
				msgConfigVolume))
		}
		if strings.HasPrefix(v.Name, CurveVolumePrefix) {
			errs = append(errs, field.Invalid(sp.Child("volumes").Index(i).Child("name"), v.Name,
				msgCurveVolumePrefix))
		}
	}
	for k, v := range c.Template.Labels {
		lp := tp.Child("metadata", "labels").Key(k)
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(lp, k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(lp, v, msg))
		}
	}
	return errs
}

// validateContainer checks one container of a template: it may not take
// the sidecar's name, port or the operator's port names, and a port named
// after a bound socket must be that socket's port (the operator names the
// socket's port so on the first container).
func validateContainer(ctr *corev1.Container, path *field.Path, bound map[string]int32) field.ErrorList {
	var errs field.ErrorList
	if ctr.Name == SidecarContainerName {
		errs = append(errs, field.Invalid(path.Child("name"), ctr.Name, msgSidecarContainer))
	}
	for k, p := range ctr.Ports {
		pp := path.Child("ports").Index(k)
		if p.ContainerPort == SidecarPort {
			errs = append(errs, field.Invalid(pp.Child("containerPort"), p.ContainerPort,
				msgSidecarPort))
		}
		switch port, isSocket := bound[p.Name]; {
		case slices.Contains(ReservedPortNames, p.Name):
			errs = append(errs, field.Invalid(pp.Child("name"), p.Name, msgReservedPortName))
		case isSocket && port != p.ContainerPort:
			errs = append(errs, field.Invalid(pp.Child("name"), p.Name,
				fmt.Sprintf("is the name of the bound socket %q, whose port is %d", p.Name, port)))
		}
	}
	return errs
}
