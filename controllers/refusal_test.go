package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// refusalFixture: a ventilator that binds "tasks", and a sink whose user
// template declares a metrics port of its own and a probe.
func refusalFixture() *zmqv1.ZMQTopology {
	z := &zmqv1.ZMQTopology{}
	z.Name, z.Namespace = "pipe", "ns"
	app := func(ports ...corev1.ContainerPort) *corev1.PodTemplateSpec {
		return &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "app:1", Ports: ports,
			LivenessProbe: &corev1.Probe{PeriodSeconds: 5},
		}}}}
	}
	z.Spec.Components = []zmqv1.Component{
		{Name: "ventilator", Template: app(), Sockets: []zmqv1.Socket{
			{Name: "tasks", Type: zmqv1.PUSH, Bind: &zmqv1.BindSpec{Port: 5557}},
		}},
		{Name: "sink", Replicas: ptr.To[int32](1), Template: app(corev1.ContainerPort{Name: "metrics", ContainerPort: 9090}), Sockets: []zmqv1.Socket{
			{Name: "ctl", Type: zmqv1.REP, Bind: &zmqv1.BindSpec{Port: 5559}},
			{Name: "re--sults", Type: zmqv1.PULL, Bind: &zmqv1.BindSpec{Port: 5558}},
		}},
	}
	return z
}

func rendered(t *testing.T, z *zmqv1.ZMQTopology, kind render.Kind, name string) render.Object {
	t.Helper()
	objs, err := render.Render(z, renderOpts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return render.Object{}
}

// invalid builds the error the API server returns for an invalid object.
func invalid(kind, name string, errs ...*field.Error) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: kind}, name, errs)
}

func TestRefusalErrorsMapChildFieldsToTheSpec(t *testing.T) {
	z := refusalFixture()
	sinkDeploy := rendered(t, z, render.KindDeployment, "pipe-sink")
	sinkSvc := rendered(t, z, render.KindService, "pipe-sink")
	ventCM := rendered(t, z, render.KindConfigMap, "pipe-ventilator-zmq")
	containers := field.NewPath("spec", "template", "spec").Child("containers").Index(0)

	for _, tc := range []struct {
		name string
		obj  render.Object
		err  error
		want []string
	}{
		{"a container port the operator added is the bound socket's name",
			sinkDeploy, invalid("Deployment", "pipe-sink", field.Invalid(containers.Child("ports").Index(2).Child("name"), "re--sults", "must not contain consecutive hyphens")),
			[]string{`spec.components[1].sockets[1].name: Invalid value: Deployment pipe-sink refused by the API server: spec.template.spec.containers[0].ports[2].name: Invalid value: "re--sults": must not contain consecutive hyphens`}},
		{"its containerPort is the socket's bind port",
			sinkDeploy, invalid("Deployment", "pipe-sink", field.Invalid(containers.Child("ports").Index(1).Child("containerPort"), 5559, "taken")),
			[]string{`spec.components[1].sockets[0].bind.port: Invalid value: Deployment pipe-sink refused by the API server: spec.template.spec.containers[0].ports[1].containerPort: Invalid value: 5559: taken`}},
		{"a port of the user's template stays in the template",
			sinkDeploy, invalid("Deployment", "pipe-sink", field.Invalid(containers.Child("ports").Index(0).Child("name"), "metrics", "nope")),
			[]string{`spec.components[1].template.spec.containers[0].ports[0].name: Invalid value: Deployment pipe-sink`}},
		{"a field of the user's template maps into it",
			sinkDeploy, invalid("Deployment", "pipe-sink", field.Required(containers.Child("livenessProbe"), "must specify a handler type")),
			[]string{`spec.components[1].template.spec.containers[0].livenessProbe: Invalid value: Deployment pipe-sink refused by the API server: spec.template.spec.containers[0].livenessProbe: Required value: must specify a handler type`}},
		{"a field the operator injected falls back to the component",
			sinkDeploy, invalid("Deployment", "pipe-sink", field.Invalid(containers.Child("env").Index(3).Child("name"), "X", "bad")),
			[]string{`spec.components[1]: Invalid value: Deployment pipe-sink refused by the API server: spec.template.spec.containers[0].env[3].name`}},
		{"a Service port is the bound socket's",
			sinkSvc, invalid("Service", "pipe-sink", field.Invalid(field.NewPath("spec", "ports").Index(1).Child("name"), "re--sults", "bad")),
			[]string{`spec.components[1].sockets[1].name: Invalid value: Service pipe-sink`}},
		{"every cause is reported",
			sinkSvc, invalid("Service", "pipe-sink",
				field.Invalid(field.NewPath("spec", "ports").Index(0).Child("port"), 5559, "bad"),
				field.Invalid(field.NewPath("spec", "ports").Index(1).Child("name"), "re--sults", "bad")),
			[]string{`spec.components[1].sockets[0].bind.port: `, `spec.components[1].sockets[1].name: `}},
		{"a child's name comes from the component's name",
			ventCM, invalid("ConfigMap", "pipe-ventilator-zmq", field.Invalid(field.NewPath("metadata", "name"), "x", "bad")),
			[]string{`spec.components[0].name: Invalid value: ConfigMap pipe-ventilator-zmq refused`}},
		{"an admission policy's denial without a field names the component",
			sinkDeploy, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "pipe-sink",
				errors.New("ValidatingAdmissionPolicy 'p' with binding 'b' denied request: frozen")),
			[]string{`spec.components[1]: Invalid value: Deployment pipe-sink refused by the API server: deployments.apps "pipe-sink" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: frozen`}},
		{"a foreign object names the component",
			ventCM, fmt.Errorf("applying: %w", &foreignObjectError{kind: render.KindConfigMap, name: "pipe-ventilator-zmq"}),
			[]string{`spec.components[0].name: Invalid value: ConfigMap pipe-ventilator-zmq already exists and is not controlled by this topology`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := refusalErrors(z, tc.obj, fmt.Errorf("applying: %w", tc.err))
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tc.want), errs)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error %d:\n got %s\nwant prefix %s", i, e.Error(), tc.want[i])
				}
			}
		})
	}
}

func TestTopologyNameMapsToMetadataName(t *testing.T) {
	z := refusalFixture()
	z.Name = "my.pipe" // legal for a custom resource, not for a Service
	svc := rendered(t, z, render.KindService, "my.pipe-sink")
	errs := refusalErrors(z, svc, invalid("Service", "my.pipe-sink", field.Invalid(field.NewPath("metadata", "name"), "my.pipe-sink", "a DNS-1035 label")))
	if len(errs) != 1 || errs[0].Field != "metadata.name" {
		t.Fatalf("got %v, want one error at metadata.name", errs)
	}
}

func TestIsRefusal(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	terminating := apierrors.NewForbidden(gr, "x", errors.New("namespace is terminating"))
	terminating.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{invalid("Deployment", "x", field.Required(field.NewPath("spec"), "")), true},
		{apierrors.NewBadRequest("bad"), true},
		{apierrors.NewForbidden(gr, "x", errors.New("exceeded quota")), true},
		{apierrors.NewRequestEntityTooLargeError("too large"), true},
		{&foreignObjectError{kind: render.KindService, name: "x"}, true},
		{terminating, false},
		{apierrors.NewConflict(gr, "x", errors.New("changed")), false},
		{apierrors.NewInternalError(errors.New("etcd")), false},
		{apierrors.NewServerTimeout(gr, "patch", 1), false},
		{apierrors.NewTooManyRequests("slow down", 1), false},
		{apierrors.NewServiceUnavailable("down"), false},
		{errors.New("connection refused"), false},
	} {
		if got := isRefusal(fmt.Errorf("applying: %w", tc.err)); got != tc.want {
			t.Errorf("isRefusal(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestParseFieldPath(t *testing.T) {
	for in, want := range map[string]string{
		"spec.template.spec.containers[0].ports[1].name": "spec.template.spec.containers[0].ports[1].name",
		"metadata.annotations[example.com/x]":            "metadata.annotations[example.com/x]",
		"spec":                                           "spec",
	} {
		segs, ok := parseFieldPath(in)
		if !ok {
			t.Fatalf("%q: not parsed", in)
		}
		p := field.NewPath(segs[0].name)
		for _, k := range segs[0].keys {
			p = p.Key(k)
		}
		for _, s := range segs[1:] {
			p = s.appendTo(p)
		}
		if p.String() != want {
			t.Errorf("%q: got %q", in, p.String())
		}
	}
	for _, bad := range []string{"", ".spec", "spec.", "spec[0", "spec[0]x", "a..b"} {
		if _, ok := parseFieldPath(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestDeviceTemplateRefusalMapsIntoIt: a field a device's template set,
// refused by the API server, is reported at spec.components[i].device.template.
func TestDeviceTemplateRefusalMapsIntoIt(t *testing.T) {
	z := refusalFixture()
	z.Spec.Components = append(z.Spec.Components, zmqv1.Component{
		Name: "stream", Device: &zmqv1.DeviceSpec{Type: zmqv1.Streamer, Template: &zmqv1.DevicePodTemplate{
			Spec: zmqv1.DevicePodSpec{PriorityClassName: "gold"}}},
		Sockets: []zmqv1.Socket{
			{Name: "frontend", Type: zmqv1.PULL, Bind: &zmqv1.BindSpec{Port: 6000}},
			{Name: "backend", Type: zmqv1.PUSH, Bind: &zmqv1.BindSpec{Port: 6001}},
		},
	})
	dev := rendered(t, z, render.KindDeployment, "pipe-stream")
	err := invalid("Deployment", "pipe-stream", field.Forbidden(field.NewPath("spec", "template", "spec", "priorityClassName"), "no PriorityClass gold"))
	errs := refusalErrors(z, dev, fmt.Errorf("applying: %w", err))
	want := `spec.components[2].device.template.spec.priorityClassName: Invalid value: Deployment pipe-stream refused by the API server`
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), want) {
		t.Fatalf("got %v; want one error starting %s", errs, want)
	}
}
