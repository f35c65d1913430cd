package render

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// renderTemplate renders the pod template of the named component as JSON,
// the form that decides whether a workload rolls.
func renderTemplate(t *testing.T, z *zmqv1.ZMQTopology, name string) (string, map[string]string, map[string]string) {
	t.Helper()
	c := z.Component(name)
	tpl, err := PodTemplate(z, c, Resolve(z, c, "cluster.local"), Options{ClusterDomain: "cluster.local", SidecarImage: "s:1"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range tpl.Spec.Containers[0].Env {
		env[*e.Name] = *e.Value
	}
	return string(raw), env, tpl.Annotations
}

// A target's scale changes the template of a Restart connector and leaves
// a Live connector's untouched; other changes roll both.
func TestLiveTemplateIgnoresTargetScale(t *testing.T) {
	for _, tc := range []struct {
		policy      zmqv1.EndpointUpdatePolicy
		wantChanged bool
	}{
		{"", true},
		{zmqv1.EndpointUpdatesRestart, true},
		{zmqv1.EndpointUpdatesLive, false},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			for _, scale := range [][2]int32{{3, 4}, {1, 2}, {2, 1}} {
				z := fixture()
				z.Component("sub").EndpointUpdates = tc.policy
				z.Component("pub").Replicas = ptr.To(scale[0])
				before, _, _ := renderTemplate(t, z, "sub")
				z.Component("pub").Replicas = ptr.To(scale[1])
				after, _, _ := renderTemplate(t, z, "sub")
				if changed := before != after; changed != tc.wantChanged {
					t.Errorf("pub %d -> %d: template changed = %v, want %v", scale[0], scale[1], changed, tc.wantChanged)
				}
			}
		})
	}
}

func TestLiveTemplateRollsOnOtherChanges(t *testing.T) {
	changes := map[string]func(z *zmqv1.ZMQTopology){
		"socket option":  func(z *zmqv1.ZMQTopology) { z.Component("sub").Sockets[0].Options.RcvHWM = ptr.To[int32](6) },
		"default option": func(z *zmqv1.ZMQTopology) { z.Spec.SocketDefaults.ConnectTimeoutMillis = ptr.To[int32](1) },
		"fixed address":  func(z *zmqv1.ZMQTopology) { z.Component("sub").Sockets[1].Connect.Address = "tcp://legacy:10" },
		"target socket": func(z *zmqv1.ZMQTopology) {
			z.Component("sub").Sockets[0].Connect = &zmqv1.ConnectSpec{Component: "fwd", Socket: "backend"}
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			z := fixture()
			z.Component("sub").EndpointUpdates = zmqv1.EndpointUpdatesLive
			before, _, ann := renderTemplate(t, z, "sub")
			change(z)
			after, _, ann2 := renderTemplate(t, z, "sub")
			if before == after || ann[AnnotationConfigHash] == ann2[AnnotationConfigHash] {
				t.Errorf("template or config hash unchanged (%s)", ann[AnnotationConfigHash])
			}
		})
	}
}

func TestLiveTemplateEnv(t *testing.T) {
	z := fixture()
	_, env, ann := renderTemplate(t, z, "sub")
	if _, ok := env[EnvEndpointUpdates]; ok || ann[AnnotationConfigHash] != "" {
		t.Errorf("Restart template carries %s or a config hash: %v %v", EnvEndpointUpdates, env, ann)
	}
	if !strings.HasPrefix(env["ZMQ_IN_ENDPOINTS"], "tcp://t-pub-0.") {
		t.Errorf("Restart: ZMQ_IN_ENDPOINTS = %q", env["ZMQ_IN_ENDPOINTS"])
	}

	z.Component("sub").EndpointUpdates = zmqv1.EndpointUpdatesLive
	_, env, ann = renderTemplate(t, z, "sub")
	if v, ok := env["ZMQ_IN_ENDPOINTS"]; ok {
		t.Errorf("Live: ZMQ_IN_ENDPOINTS = %q (the user's hard-coded value or ours); want it absent", v)
	}
	want := map[string]string{
		"ZMQ_EXT_ENDPOINTS": "tcp://legacy:9", // a fixed address stays
		"ZMQ_IN_TYPE":       "SUB",
		"ZMQ_IN_RCVHWM":     "5",
		EnvEndpointUpdates:  "Live",
		"KEEP":              "1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("Live: %s = %q, want %q", k, env[k], v)
		}
	}
	if len(ann[AnnotationConfigHash]) != 32 {
		t.Errorf("Live: config hash = %q", ann[AnnotationConfigHash])
	}
	// The ConfigMap still carries the live endpoints.
	cfg := Resolve(z, z.Component("sub"), "cluster.local")
	if got := cfg.Socket("in").Endpoints; !reflect.DeepEqual(got, ReplicaEndpoints(z, z.Component("pub"), &z.Component("pub").Sockets[0], "cluster.local")) {
		t.Errorf("file endpoints = %q", got)
	}
}
