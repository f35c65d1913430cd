package render

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

func fixture() *zmqv1.ZMQTopology {
	tpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "a", LabelComponent: "spoofed"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "app:1",
			Env: []corev1.EnvVar{{Name: "KEEP", Value: "1"}, {Name: "ZMQ_IN_ENDPOINTS", Value: "tcp://hardcoded:1"}},
		}}},
	}
	return &zmqv1.ZMQTopology{
		ObjectMeta: metav1.ObjectMeta{Name: "t", Namespace: "ns", UID: "uid-1"},
		Spec: zmqv1.ZMQTopologySpec{
			SocketDefaults: &zmqv1.SocketOptions{SndHWM: ptr.To[int32](10), Heartbeat: &zmqv1.HeartbeatOptions{IntervalMillis: ptr.To[int32](500)},
				ConnectTimeoutMillis: ptr.To[int32](2000), MaxMsgSize: ptr.To[int64](1 << 20)},
			Components: []zmqv1.Component{
				{Name: "pub", Replicas: ptr.To[int32](3), Template: tpl.DeepCopy(), Sockets: []zmqv1.Socket{
					{Name: "out", Type: zmqv1.XPUB, Bind: &zmqv1.BindSpec{Port: 7000}},
					{Name: "up", Type: zmqv1.PUB, Connect: &zmqv1.ConnectSpec{Component: "fwd", Socket: "frontend"}},
				}},
				{Name: "fwd", Replicas: ptr.To[int32](2), Device: &zmqv1.DeviceSpec{Type: zmqv1.Forwarder}, Sockets: []zmqv1.Socket{
					{Name: "frontend", Type: zmqv1.XSUB, Bind: &zmqv1.BindSpec{Port: 7001}},
					{Name: "backend", Type: zmqv1.XPUB, Bind: &zmqv1.BindSpec{Port: 7002}},
				}},
				{Name: "sub", Template: tpl.DeepCopy(), Sockets: []zmqv1.Socket{
					{Name: "in", Type: zmqv1.SUB, Connect: &zmqv1.ConnectSpec{Component: "pub", Socket: "out"},
						Options: &zmqv1.SocketOptions{SndHWM: ptr.To[int32](99), RcvHWM: ptr.To[int32](5), MaxMsgSize: ptr.To[int64](-1)}},
					{Name: "ext", Type: zmqv1.SUB, Connect: &zmqv1.ConnectSpec{Address: "tcp://legacy:9"}},
				}},
			},
		},
	}
}

func TestBoundEndpoints(t *testing.T) {
	z := fixture()
	pub, fwd := &z.Spec.Components[0], &z.Spec.Components[1]
	single := z.Spec.Components[2].DeepCopy()
	single.Sockets = []zmqv1.Socket{{Name: "x", Type: zmqv1.PULL, Bind: &zmqv1.BindSpec{Port: 9}}}
	for _, tc := range []struct {
		name       string
		c          *zmqv1.Component
		socket     string
		connecting zmqv1.SocketType
		want       []string
	}{
		{"SUB reaches every replica of a 3-replica XPUB", pub, "out", zmqv1.SUB, []string{
			"tcp://t-pub-0.t-pub-headless.ns.svc.cluster.local:7000",
			"tcp://t-pub-1.t-pub-headless.ns.svc.cluster.local:7000",
			"tcp://t-pub-2.t-pub-headless.ns.svc.cluster.local:7000",
		}},
		{"PUB reaches one Forwarder replica through the ClusterIP", fwd, "frontend", zmqv1.PUB, []string{
			"tcp://t-fwd.ns.svc.cluster.local:7001",
		}},
		{"XPUB is a fan-out sender too", fwd, "frontend", zmqv1.XPUB, []string{
			"tcp://t-fwd.ns.svc.cluster.local:7001",
		}},
		{"SUB reaches both Forwarder replicas", fwd, "backend", zmqv1.SUB, []string{
			"tcp://t-fwd-0.t-fwd-headless.ns.svc.cluster.local:7002",
			"tcp://t-fwd-1.t-fwd-headless.ns.svc.cluster.local:7002",
		}},
		{"single replica: the ClusterIP", single, "x", zmqv1.PUSH, []string{"tcp://t-sub.ns.svc.cluster.local:9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BoundEndpoints(z, tc.c, tc.c.Socket(tc.socket), tc.connecting, "cluster.local")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q; want %q", got, tc.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	z := fixture()
	cfg := Resolve(z, &z.Spec.Components[2], "cluster.local")
	in, ext := cfg.Socket("in"), cfg.Socket("ext")
	if in.Bind || len(in.Endpoints) != 3 || in.Peer == nil || in.Peer.Type != "XPUB" {
		t.Errorf("in = %+v; want 3 endpoints to peer pub/out of type XPUB", in)
	}
	// Overrides win field by field; unset fields keep the defaults.
	if *in.Options.SndHWM != 99 || *in.Options.RcvHWM != 5 || *in.Options.HeartbeatIntervalMs != 500 ||
		*in.Options.ConnectTimeoutMillis != 2000 || *in.Options.MaxMsgSize != -1 {
		t.Errorf("in options = sndhwm %d rcvhwm %d ivl %d connectTimeout %d maxMsgSize %d; want 99, 5, 500, 2000, -1",
			*in.Options.SndHWM, *in.Options.RcvHWM, *in.Options.HeartbeatIntervalMs, *in.Options.ConnectTimeoutMillis, *in.Options.MaxMsgSize)
	}
	if !reflect.DeepEqual(ext.Endpoints, []string{"tcp://legacy:9"}) || ext.Peer != nil {
		t.Errorf("ext = %+v; want the literal address and no peer", ext)
	}
	fwd := Resolve(z, &z.Spec.Components[1], "cluster.local")
	if fwd.Device != "Forwarder" || !fwd.Sockets[0].Bind || fwd.Sockets[0].Endpoints[0] != "tcp://*:7001" || fwd.Sockets[0].Port != 7001 {
		t.Errorf("forwarder config = %+v", fwd)
	}
}

func TestServices(t *testing.T) {
	z := fixture()
	names := func(c *zmqv1.Component) (out []string) {
		for _, s := range Services(z, c) {
			kind := "ClusterIP"
			if s.Spec.ClusterIP != nil && *s.Spec.ClusterIP == corev1.ClusterIPNone {
				kind = "headless"
			}
			out = append(out, *s.Name+":"+kind)
		}
		return out
	}
	if got, want := names(&z.Spec.Components[1]), []string{"t-fwd:ClusterIP", "t-fwd-headless:headless"}; !reflect.DeepEqual(got, want) {
		t.Errorf("per-replica component: %v; want %v", got, want)
	}
	if got := names(&z.Spec.Components[2]); got != nil {
		t.Errorf("a component that binds nothing has Services %v", got)
	}
	svc := Services(z, &z.Spec.Components[1])[0]
	if len(svc.Spec.Ports) != 2 || *svc.Spec.Ports[1].Name != "backend" || *svc.Spec.Ports[1].Port != 7002 {
		t.Errorf("ports = %+v", svc.Spec.Ports)
	}
	if !reflect.DeepEqual(svc.Spec.Selector, map[string]string{LabelTopology: "t", LabelComponent: "fwd"}) {
		t.Errorf("selector = %v", svc.Spec.Selector)
	}
}

func TestPodTemplate(t *testing.T) {
	z := fixture()
	c := &z.Spec.Components[2]
	tpl, err := PodTemplate(z, c, Resolve(z, c, "cluster.local"), Options{ClusterDomain: "cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	ctr := tpl.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range ctr.Env {
		if _, dup := env[*e.Name]; dup {
			t.Errorf("env %s set twice", *e.Name)
		}
		env[*e.Name] = *e.Value
	}
	if env["KEEP"] != "1" {
		t.Error("the user's own variables must be kept")
	}
	if !strings.HasPrefix(env["ZMQ_IN_ENDPOINTS"], "tcp://t-pub-0.") {
		t.Errorf("ZMQ_IN_ENDPOINTS = %q; the topology must override a hard-coded value", env["ZMQ_IN_ENDPOINTS"])
	}
	if tpl.Labels[LabelComponent] != "sub" || tpl.Labels["team"] != "a" {
		t.Errorf("labels = %v; want the user's plus ours, ours winning", tpl.Labels)
	}
	if len(ctr.VolumeMounts) != 1 || *ctr.VolumeMounts[0].MountPath != "/etc/zmq" {
		t.Errorf("mounts = %+v", ctr.VolumeMounts)
	}
	if len(ctr.Ports) != 0 {
		t.Errorf("a component that binds nothing declares ports %+v", ctr.Ports)
	}
	if len(tpl.Spec.InitContainers) != 0 {
		t.Errorf("a sidecar was injected without a sidecar image: %+v", tpl.Spec.InitContainers)
	}
	// The user's template in the topology is not modified.
	if len(c.Template.Spec.Containers[0].Env) != 2 || c.Template.Spec.Containers[0].Env[1].Value != "tcp://hardcoded:1" {
		t.Error("rendering modified the topology's template")
	}
}

func TestDevicePodTemplate(t *testing.T) {
	z := fixture()
	c := &z.Spec.Components[1]
	tpl, err := PodTemplate(z, c, Resolve(z, c, "cluster.local"), Options{SidecarImage: "sidecar:1", ImagePullPolicy: corev1.PullNever})
	if err != nil {
		t.Fatal(err)
	}
	ctr := tpl.Spec.Containers[0]
	if *ctr.Image != "sidecar:1" || *ctr.ImagePullPolicy != corev1.PullNever {
		t.Errorf("image = %s %s", *ctr.Image, *ctr.ImagePullPolicy)
	}
	if want := []string{"device", "forwarder", "--config", "/etc/zmq/topology.json", "--listen", ":9918", "--shutdown-delay", "5s", "--drain-timeout", "20s"}; !reflect.DeepEqual(ctr.Args, want) {
		t.Errorf("args = %q; want %q", ctr.Args, want)
	}
	if len(ctr.Ports) != 3 || *ctr.Ports[0].Name != "zmq-device" || *ctr.Ports[1].Name != "frontend" || *ctr.Ports[2].ContainerPort != 7002 {
		t.Errorf("ports = %+v", ctr.Ports)
	}
	sc := ctr.SecurityContext
	if !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("security context = %+v", sc)
	}
	if ctr.Resources.Limits.Memory().String() != "256Mi" {
		t.Errorf("memory limit = %s", ctr.Resources.Limits.Memory())
	}

	// device.ioThreads, when set, becomes --io-threads (0 included: the Go
	// runtime's default); unset, the args above stay as they were.
	for _, n := range []int32{0, 4} {
		c.Device.IOThreads = ptr.To(n)
		tpl, err := PodTemplate(z, c, Resolve(z, c, "cluster.local"), Options{SidecarImage: "sidecar:1"})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"device", "forwarder", "--config", "/etc/zmq/topology.json", "--listen", ":9918", "--io-threads", strconv.Itoa(int(n)), "--shutdown-delay", "5s", "--drain-timeout", "20s"}
		if got := tpl.Spec.Containers[0].Args; !reflect.DeepEqual(got, want) {
			t.Errorf("ioThreads %d: args = %q; want %q", n, got, want)
		}
	}
}

func TestRender(t *testing.T) {
	objs, err := Render(fixture(), Options{ClusterDomain: "cluster.local", SidecarImage: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, string(o.Kind)+"/"+o.Name)
	}
	want := []string{
		"NetworkPolicy/t-pub", "NetworkPolicy/t-fwd", "NetworkPolicy/t-sub",
		"ConfigMap/t-pub-zmq", "ConfigMap/t-fwd-zmq", "ConfigMap/t-sub-zmq",
		"Service/t-pub", "Service/t-pub-headless", "Service/t-fwd", "Service/t-fwd-headless",
		"PodDisruptionBudget/t-pub", "PodDisruptionBudget/t-fwd",
		"Deployment/t-sub",
		"StatefulSet/t-pub", "StatefulSet/t-fwd",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Render() =\n%q\nwant\n%q", got, want)
	}

	// Opting out removes the NetworkPolicies and nothing else.
	z := fixture()
	z.Spec.NetworkPolicy = &zmqv1.NetworkPolicySpec{Enabled: ptr.To(false)}
	objs, err = Render(z, Options{ClusterDomain: "cluster.local", SidecarImage: "s"})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, o := range objs {
		got = append(got, string(o.Kind)+"/"+o.Name)
	}
	if !reflect.DeepEqual(got, want[3:]) {
		t.Errorf("Render() with networkPolicy.enabled=false =\n%q\nwant\n%q", got, want[3:])
	}
}

func TestDefaultImagePullSecrets(t *testing.T) {
	z := fixture()
	// The application component already names one of the defaults.
	app := &z.Spec.Components[2]
	app.Template.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "own"}, {Name: "b"}}
	opts := Options{ClusterDomain: "cluster.local", SidecarImage: "s", DefaultImagePullSecrets: []string{"a", "b"}}
	for _, tc := range []struct {
		c    *zmqv1.Component
		want []string
	}{
		{&z.Spec.Components[1], []string{"a", "b"}}, // a device pod
		{app, []string{"own", "b", "a"}},
	} {
		tpl, err := PodTemplate(z, tc.c, Resolve(z, tc.c, "cluster.local"), opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range tpl.Spec.ImagePullSecrets {
			got = append(got, *r.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: imagePullSecrets = %q; want %q", tc.c.Name, got, tc.want)
		}
	}
	// The user's template in the topology is not modified.
	if len(app.Template.Spec.ImagePullSecrets) != 2 {
		t.Error("rendering modified the topology's template")
	}
	// Without defaults nothing is added.
	c := &z.Spec.Components[1]
	tpl, err := PodTemplate(z, c, Resolve(z, c, "cluster.local"), Options{SidecarImage: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.Spec.ImagePullSecrets) != 0 {
		t.Errorf("imagePullSecrets = %+v without defaults", tpl.Spec.ImagePullSecrets)
	}
}
