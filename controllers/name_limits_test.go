package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// limitTopology renders every kind of child: component "c" (3 replicas, a
// StatefulSet behind a ClusterIP and a headless Service) binds socket "s";
// a Streamer device (2 replicas) relays it to component "w", a Deployment
// that also connects to an address outside the topology.
func limitTopology(ns, name string) *zmqv1.ZMQTopology {
	tpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "a"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	return &zmqv1.ZMQTopology{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: zmqv1.ZMQTopologySpec{Components: []zmqv1.Component{
			{Name: "c", Replicas: ptr.To[int32](3), Template: tpl.DeepCopy(), Sockets: []zmqv1.Socket{
				{Name: "s", Type: zmqv1.PUSH, Bind: &zmqv1.BindSpec{Port: 5000}},
				{Name: "ctl", Type: zmqv1.REP, Bind: &zmqv1.BindSpec{Port: 5001}},
			}},
			{Name: "relay", Replicas: ptr.To[int32](2), Device: &zmqv1.DeviceSpec{Type: zmqv1.Streamer}, Sockets: []zmqv1.Socket{
				{Name: zmqv1.DeviceFrontend, Type: zmqv1.PULL, Connect: &zmqv1.ConnectSpec{Component: "c", Socket: "s"}},
				{Name: zmqv1.DeviceBackend, Type: zmqv1.PUSH, Bind: &zmqv1.BindSpec{Port: 6000}},
			}},
			{Name: "w", Template: tpl.DeepCopy(), Sockets: []zmqv1.Socket{
				{Name: "in", Type: zmqv1.PULL, Connect: &zmqv1.ConnectSpec{Component: "relay", Socket: zmqv1.DeviceBackend}},
				{Name: "ext", Type: zmqv1.SUB, Connect: &zmqv1.ConnectSpec{Address: "tcp://legacy.example:7000"}},
			}},
		}},
	}
}

// Edits of limitTopology, each setting one name.
func topologyNamed(n string) func(*zmqv1.ZMQTopology) {
	return func(z *zmqv1.ZMQTopology) { z.Name = n }
}

func componentNamed(n string) func(*zmqv1.ZMQTopology) {
	return func(z *zmqv1.ZMQTopology) {
		z.Spec.Components[0].Name = n
		z.Spec.Components[1].Sockets[0].Connect.Component = n
	}
}

func socketNamed(n string) func(*zmqv1.ZMQTopology) {
	return func(z *zmqv1.ZMQTopology) {
		z.Spec.Components[0].Sockets[0].Name = n
		z.Spec.Components[1].Sockets[0].Connect.Socket = n
	}
}

func addressed(a string) func(*zmqv1.ZMQTopology) {
	return func(z *zmqv1.ZMQTopology) { z.Spec.Components[2].Sockets[1].Connect.Address = a }
}

func withTemplate(edit func(*corev1.PodTemplateSpec)) func(*zmqv1.ZMQTopology) {
	return func(z *zmqv1.ZMQTopology) { edit(z.Spec.Components[0].Template) }
}

// nameLimitCase is one spec at a limit. admitted says whether the API
// server takes it, valid whether Validate does too; path is the field both
// name when they refuse it.
type nameLimitCase struct {
	name     string
	edit     func(*zmqv1.ZMQTopology)
	admitted bool
	valid    bool
	path     string
}

func nameLimitCases() []nameLimitCase {
	ok := func(name string, edit func(*zmqv1.ZMQTopology)) nameLimitCase {
		return nameLimitCase{name: name, edit: edit, admitted: true, valid: true}
	}
	refused := func(name string, edit func(*zmqv1.ZMQTopology), path string) nameLimitCase {
		return nameLimitCase{name: name, edit: edit, path: path}
	}
	invalid := func(name string, edit func(*zmqv1.ZMQTopology), path string) nameLimitCase {
		return nameLimitCase{name: name, edit: edit, admitted: true, path: path}
	}
	maxTopology := "t" + strings.Repeat("0", zmqv1.MaxTopologyNameLength-1)
	maxComponent := "c" + strings.Repeat("0", zmqv1.MaxComponentNameLength-1)
	maxSocket := "s" + strings.Repeat("0", zmqv1.MaxSocketNameLength-1)
	label63 := "h" + strings.Repeat("0", 62)
	const topologyName, componentName, socketName = "metadata.name", "spec.components[0].name", "spec.components[0].sockets[0].name"
	const address, template = "spec.components[2].sockets[1].connect.address", "spec.components[0].template"
	return []nameLimitCase{
		ok("topology: one letter", topologyNamed("a")),
		ok("topology: at the maximum length", topologyNamed(maxTopology)),
		refused("topology: one over the maximum length", topologyNamed(maxTopology+"0"), topologyName),
		ok("topology: hyphens", topologyNamed("a-b-c")),
		ok("topology: two hyphens in a row", topologyNamed("a--b")),
		ok("topology: digits", topologyNamed("a12")),
		refused("topology: a leading digit", topologyNamed("1a"), topologyName),
		refused("topology: digits only", topologyNamed("123"), topologyName),
		refused("topology: a dot", topologyNamed("my.pipe"), topologyName),
		refused("topology: uppercase", topologyNamed("My"), topologyName),
		refused("topology: a trailing hyphen", topologyNamed("a-"), topologyName),
		refused("topology: a leading hyphen", topologyNamed("-a"), topologyName),

		ok("component: one letter", componentNamed("q")),
		ok("component: at the maximum length", componentNamed(maxComponent)),
		refused("component: one over the maximum length", componentNamed(maxComponent+"0"), componentName),
		ok("component: hyphens", componentNamed("c-d-e")),
		ok("component: two hyphens in a row", componentNamed("c--d")),
		ok("component: digits", componentNamed("c12")),
		refused("component: a leading digit", componentNamed("1c"), componentName),
		refused("component: a dot", componentNamed("c.d"), componentName),
		refused("component: uppercase", componentNamed("C"), componentName),
		refused("component: a trailing hyphen", componentNamed("c-"), componentName),
		refused("component: empty", componentNamed(""), componentName),
		invalid("component: named like another's headless Service", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components = append(z.Spec.Components, zmqv1.Component{Name: "c-headless", Template: z.Spec.Components[2].Template.DeepCopy(),
				Sockets: []zmqv1.Socket{{Name: "in", Type: zmqv1.PULL, Bind: &zmqv1.BindSpec{Port: 5002}}}})
		}, "spec.components[3].name"),
		ok("component: named like another's ConfigMap (another kind)", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components = append(z.Spec.Components, zmqv1.Component{Name: "c-zmq", Template: z.Spec.Components[2].Template.DeepCopy(),
				Sockets: []zmqv1.Socket{{Name: "in", Type: zmqv1.PULL, Bind: &zmqv1.BindSpec{Port: 5002}}}})
		}),

		ok("socket: one letter", socketNamed("q")),
		ok("socket: at the maximum length", socketNamed(maxSocket)),
		refused("socket: one over the maximum length", socketNamed(maxSocket+"0"), socketName),
		ok("socket: hyphens", socketNamed("s-t-u")),
		refused("socket: two hyphens in a row", socketNamed("s--t"), socketName),
		ok("socket: digits", socketNamed("s12")),
		refused("socket: a leading digit", socketNamed("1s"), socketName),
		refused("socket: a dot", socketNamed("s.t"), socketName),
		refused("socket: uppercase", socketNamed("S"), socketName),
		refused("socket: a trailing hyphen", socketNamed("s-"), socketName),
		refused("socket: empty", socketNamed(""), socketName),
		refused("socket: the sidecar's port name", socketNamed(zmqv1.SidecarPortName), socketName),
		refused("socket: the device's port name", socketNamed(zmqv1.DeviceMetricsPortName), socketName),

		ok("all names at the maximum length", func(z *zmqv1.ZMQTopology) {
			topologyNamed("u" + maxTopology[1:])(z)
			componentNamed(maxComponent)(z)
			socketNamed(maxSocket)(z)
			z.Spec.Components[0].Replicas = ptr.To[int32](1000)
		}),

		ok("address: the lowest port", addressed("tcp://legacy.example:1")),
		ok("address: the highest port", addressed("tcp://legacy.example:65535")),
		refused("address: port 0", addressed("tcp://legacy.example:0"), address),
		refused("address: port 65536", addressed("tcp://legacy.example:65536"), address),
		refused("address: port 99999", addressed("tcp://legacy.example:99999"), address),
		ok("address: an IPv4 address", addressed("tcp://10.0.0.1:7000")),
		refused("address: a bad IPv4 address", addressed("tcp://10.0.0.256:7000"), address),
		refused("address: a number", addressed("tcp://123:7000"), address),
		ok("address: an IPv6 address", addressed("tcp://[fd00::1]:7000")),
		refused("address: an IPv4 address in brackets", addressed("tcp://[10.0.0.1]:7000"), address),
		refused("address: an IPv4-mapped IPv6 address", addressed("tcp://[::ffff:10.0.0.1]:7000"), address),
		refused("address: an underscore", addressed("tcp://legacy_host:7000"), address),
		ok("address: a DNS label of 63 characters", addressed("tcp://"+label63+".example:7000")),
		refused("address: a DNS label of 64 characters", addressed("tcp://"+label63+"0.example:7000"), address),
		ok("address: uppercase", addressed("tcp://Legacy.Example:7000")),
		refused("address: a leading hyphen", addressed("tcp://-legacy:7000"), address),

		refused("template: no container", withTemplate(func(p *corev1.PodTemplateSpec) { *p = corev1.PodTemplateSpec{} }), template),
		refused("template: a container named like the sidecar", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Name = zmqv1.SidecarContainerName
		}), template),
		refused("template: an init container named like the sidecar", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.InitContainers = []corev1.Container{{Name: zmqv1.SidecarContainerName, Image: "x"}}
		}), template),
		refused("template: a volume named like the config volume", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.Volumes = []corev1.Volume{{Name: zmqv1.ConfigVolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}), template),
		refused("template: a volume named like a CURVE key volume", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.Volumes = []corev1.Volume{{Name: zmqv1.CurveVolumePrefix + "keys", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}), template+".spec.volumes[0].name"),
		refused("template: the device's port name on an init container", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "x", Ports: []corev1.ContainerPort{{Name: zmqv1.DeviceMetricsPortName, ContainerPort: 8080}}}}
		}), template+".spec.initContainers[0].ports[0].name"),
		refused("template: the sidecar's port", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: zmqv1.SidecarPort}}
		}), template),
		refused("template: the sidecar's port on an init container", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "x", Ports: []corev1.ContainerPort{{ContainerPort: zmqv1.SidecarPort}}}}
		}), template),
		refused("template: the sidecar's port name", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: zmqv1.SidecarPortName, ContainerPort: 8080}}
		}), template),
		refused("template: restartPolicy Never", withTemplate(func(p *corev1.PodTemplateSpec) { p.Spec.RestartPolicy = corev1.RestartPolicyNever }), template),
		ok("template: a port named after its socket", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "s", ContainerPort: 5000}}
		})),
		invalid("template: a port named after a socket with another number", withTemplate(func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "s", ContainerPort: 8080}}
		}), template+".spec.containers[0].ports[0].name"),
		invalid("template: a label value that is not one", withTemplate(func(p *corev1.PodTemplateSpec) { p.Labels["team"] = "a b" }),
			template+".metadata.labels[team]"),
	}
}

// TestNamesAtEveryLimit creates topologies with names (and addresses and
// template names) at every limit on the real API server. What it refuses,
// Validate refuses too, with the same field. What it admits and Validate
// accepts renders children that the API server accepts: each is applied
// with a server-side dry run, as the operator applies it. So no admitted
// spec can end in a refused child because of a name.
func TestNamesAtEveryLimit(t *testing.T) {
	ctx, _ := envtestOnly(t)
	ns := newNamespace(ctx, t)
	for i, tc := range nameLimitCases() {
		t.Run(tc.name, func(t *testing.T) {
			z := limitTopology(ns, fmt.Sprintf("limit-%d", i))
			tc.edit(z)
			// Paused: the controller leaves children alone, so the dry
			// runs below are what the API server says of them.
			z.Spec.Paused = true
			errs := z.DeepCopy().Validate()
			if got := errs.ToAggregate(); (len(errs) == 0) != tc.valid || (len(errs) > 0 && !strings.Contains(got.Error(), tc.path)) {
				t.Errorf("Validate() = %v; want valid=%v naming %q", got, tc.valid, tc.path)
			}
			err := k8sClient.Create(ctx, z)
			switch {
			case !tc.admitted || !tc.valid:
				// Refused by the CRD's schema, or by the webhook, which
				// runs Validate: either way with the field's path.
				expectRefused(t, err, tc.path)
				return
			case err != nil:
				t.Fatalf("refused at admission: %v", err)
			}
			for _, err := range dryRunChildren(ctx, t, z) {
				t.Error(err)
			}
		})
	}

	// The dry run is real: a child the API server would refuse is refused.
	t.Run("a refused child is seen", func(t *testing.T) {
		z := limitTopology(ns, "limit-unchecked")
		z.UID = "00000000-0000-0000-0000-000000000009" // never created
		withTemplate(func(p *corev1.PodTemplateSpec) { p.Labels["team"] = "a b" })(z)
		errs := dryRunChildren(ctx, t, z)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), `StatefulSet limit-unchecked-c: `) || !strings.Contains(errs[0].Error(), `"a b"`) {
			t.Errorf("dry run errors = %v; want the StatefulSet refused for its label", errs)
		}
	})
}

// dryRunChildren renders z and applies every child with a server-side dry
// run, with the operator's field owner, returning the refusals.
func dryRunChildren(ctx context.Context, t *testing.T, z *zmqv1.ZMQTopology) []error {
	t.Helper()
	objs, err := render.Render(z, renderOpts)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	for _, obj := range objs {
		if err := k8sClient.Apply(ctx, obj.Apply, client.DryRunAll, client.FieldOwner(render.ManagedBy), client.ForceOwnership); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", obj.Kind, obj.Name, err))
		}
	}
	if len(objs) < 10 {
		t.Errorf("rendered %d children; want every kind", len(objs))
	}
	return errs
}
