package v1alpha1

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// validTopology is the one good fixture: a pipeline with a Streamer device.
func validTopology() *ZMQTopology {
	tpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
	return &ZMQTopology{
		ObjectMeta: metav1.ObjectMeta{Name: "t", Namespace: "ns"},
		Spec: ZMQTopologySpec{Components: []Component{
			{Name: "producer", Template: tpl, Sockets: []Socket{
				{Name: "out", Type: PUSH, Bind: &BindSpec{Port: 5000}},
				{Name: "ctl", Type: REP, Bind: &BindSpec{Port: 5001}},
			}},
			{Name: "stream", Device: &DeviceSpec{Type: Streamer}, Sockets: []Socket{
				{Name: "frontend", Type: PULL, Connect: &ConnectSpec{Component: "producer", Socket: "out"}},
				{Name: "backend", Type: PUSH, Bind: &BindSpec{Port: 6000}},
			}},
			{Name: "consumer", Template: tpl, Sockets: []Socket{
				{Name: "in", Type: PULL, Connect: &ConnectSpec{Component: "stream", Socket: "backend"}},
				{Name: "legacy", Type: SUB, Connect: &ConnectSpec{Address: "tcp://legacy.example:7000"}},
			}},
		}},
	}
}

func TestValidateAcceptsFixture(t *testing.T) {
	if errs := validTopology().Validate(); len(errs) != 0 {
		t.Fatalf("Validate() = %v; want no errors", errs)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*ZMQTopology)
		want   []string // each must appear in the aggregated message
	}{
		{"connect to a missing component", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[0].Connect.Component = "nope"
		}, []string{`spec.components[2].sockets[0].connect.component: Not found: "nope"`}},
		{"connect to a missing socket", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[0].Connect.Socket = "nope"
		}, []string{`spec.components[2].sockets[0].connect.socket: Invalid value: "nope": component "stream" has no socket named "nope"`}},
		{"connect to a connecting socket", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[0].Connect.Socket = "frontend"
		}, []string{`spec.components[2].sockets[0].connect.socket`, "connects instead of binding"}},
		{"incompatible socket types", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[0].Type = SUB
		}, []string{`spec.components[2].sockets[0].type: Invalid value: "SUB": a SUB socket cannot connect to stream/backend of type PUSH`}},
		{"two sockets bind one port", func(z *ZMQTopology) {
			z.Spec.Components[0].Sockets[1].Bind.Port = 5000
		}, []string{`spec.components[0].sockets[1].bind.port: Duplicate value: "5000 (already bound by socket \"out\")"`}},
		{"socket binds the sidecar's port", func(z *ZMQTopology) {
			z.Spec.Components[0].Sockets[0].Bind.Port = SidecarPort
		}, []string{`spec.components[0].sockets[0].bind.port: Invalid value: 9917: port 9917 is reserved for the zmq-sidecar container`}},
		{"device socket of the wrong type", func(z *ZMQTopology) {
			z.Spec.Components[1].Sockets[1].Type = PULL
		}, []string{`spec.components[1].sockets[1].type: Invalid value: "PULL": the backend socket of a Streamer device must be PUSH`}},
		{"device socket with an unknown name", func(z *ZMQTopology) {
			z.Spec.Components[1].Sockets[1].Name = "out"
			z.Spec.Components[2].Sockets[0].Connect.Socket = "out"
		}, []string{`spec.components[1].sockets[1].name: Invalid value: "out": a Streamer device has only the sockets`, `spec.components[1].sockets: Required value: a Streamer device needs a "backend" socket of type PUSH`}},
		{"template and device both set", func(z *ZMQTopology) {
			z.Spec.Components[1].Template = z.Spec.Components[0].Template
		}, []string{`spec.components[1]: Invalid value: "stream": exactly one of template or device must be set`}},
		{"bind and connect both set", func(z *ZMQTopology) {
			z.Spec.Components[0].Sockets[0].Connect = &ConnectSpec{Address: "tcp://x:1"}
		}, []string{`spec.components[0].sockets[0]: Invalid value: "out": exactly one of bind or connect must be set`}},
		{"every error is reported, not just the first", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[0].Connect.Component = "nope"
			z.Spec.Components[0].Sockets[1].Bind.Port = 5000
		}, []string{"spec.components[2].sockets[0].connect.component", "spec.components[0].sockets[1].bind.port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := validTopology().DeepCopy()
			tc.mutate(z)
			errs := z.Validate()
			if len(errs) == 0 {
				t.Fatal("Validate() = no errors; want some")
			}
			got := errs.ToAggregate().Error()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Validate() = %s\nwant it to contain %s", got, w)
				}
			}
		})
	}
}
