package controllers

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

func preflightTopology(components ...zmqv1.Component) *zmqv1.ZMQTopology {
	z := &zmqv1.ZMQTopology{}
	z.Name, z.Namespace = "t", "ns"
	z.Spec.Components = components
	return z
}

func app(name string, replicas int32, sockets ...zmqv1.Socket) zmqv1.Component {
	return zmqv1.Component{Name: name, Replicas: ptr.To(replicas), Sockets: sockets,
		Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}}
}

func bind(name string, typ zmqv1.SocketType, port int32) zmqv1.Socket {
	return zmqv1.Socket{Name: name, Type: typ, Bind: &zmqv1.BindSpec{Port: port}}
}

func connect(name string, typ zmqv1.SocketType, component, socket string) zmqv1.Socket {
	return zmqv1.Socket{Name: name, Type: typ, Connect: &zmqv1.ConnectSpec{Component: component, Socket: socket}}
}

func TestPreflight(t *testing.T) {
	// 16 SUB sockets connecting to one 1000-replica PUB: each gets 1000
	// per-replica endpoints, so the subscriber's ConfigMap holds 16000.
	fanIn := preflightTopology(app("big", 1000, bind("out", zmqv1.PUB, 7000)))
	sub := app("sub", 1)
	for i := range 16 {
		sub.Sockets = append(sub.Sockets, connect(fmt.Sprintf("in%d", i), zmqv1.SUB, "big", "out"))
	}
	fanIn.Spec.Components = append(fanIn.Spec.Components, sub)

	// Two 1000-replica components binding 16 sockets each: status lists
	// 32000 endpoints.
	wide := func(name string) zmqv1.Component {
		c := app(name, 1000)
		for i := range 16 {
			c.Sockets = append(c.Sockets, bind(fmt.Sprintf("s%d", i), zmqv1.PULL, int32(7000+i)))
		}
		return c
	}

	for _, tc := range []struct {
		name string
		z    *zmqv1.ZMQTopology
		want []string
	}{
		{"a valid topology", preflightTopology(app("a", 3, bind("out", zmqv1.PUSH, 7000)), app("b", 2, connect("in", zmqv1.PULL, "a", "out"))), nil},
		{"two components render one Service (example 3)", preflightTopology(
			app("x", 2, bind("out", zmqv1.PUSH, 7000)),
			app("x-headless", 1, bind("out", zmqv1.PUSH, 7001))),
			[]string{`spec.components[1].name: Invalid value: "x-headless": renders Service t-x-headless, which component "x" renders too`}},
		{"a ConfigMap over 1 MiB", fanIn,
			[]string{`spec.components[1]: Invalid value: ConfigMap t-sub-zmq would be 1`, "over the 1048576 bytes"}},
		{"a status over 1 MiB", preflightTopology(wide("w1"), wide("w2")),
			[]string{`spec.components: Invalid value: the topology with its status would be 1`, "over the 1048576 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desired, err := render.Render(tc.z, renderOpts)
			if err != nil {
				t.Fatal(err)
			}
			errs := preflight(tc.z, desired, "cluster.local")
			if len(tc.want) == 0 {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0].Error(), w) {
					t.Errorf("got %s\nwant it to contain %s", errs[0].Error(), w)
				}
			}
		})
	}
}
