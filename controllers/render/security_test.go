package render

import (
	"slices"
	"strings"
	"testing"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

func curveFixture() (*zmqv1.ZMQTopology, CurvePublicKeys) {
	z := fixture()
	z.Spec.Security = &zmqv1.SecuritySpec{Mechanism: zmqv1.MechanismCurve}
	return z, CurvePublicKeys{
		"pub": {Current: "PUBKEY"},
		"fwd": {Current: "FWDKEY"},
		"sub": {Current: "SUBKEY", Previous: "SUBOLD"},
	}
}

func TestCurveSockets(t *testing.T) {
	z, _ := curveFixture()
	sub := &z.Spec.Components[2]
	cfg := Resolve(z, sub, "cluster.local")
	CurveSockets(z, cfg)
	in, ext := cfg.Socket("in"), cfg.Socket("ext")
	want := &zmqconfig.Security{Mechanism: "CURVE", SecretKeyFile: "/etc/zmq-curve/key/secret-key",
		PublicKeyFile: "/etc/zmq-curve/key/public-key", ServerPublicKeyFile: "/etc/zmq-curve/servers/pub"}
	if *in.Security != *want {
		t.Fatalf("connecting socket: got %+v, want %+v", in.Security, want)
	}
	if ext.Security != nil {
		t.Fatalf("external connect got %+v, want NULL", ext.Security)
	}
	if err := in.Security.Validate("in"); err != nil {
		t.Fatal(err)
	}
	fwd := Resolve(z, &z.Spec.Components[1], "cluster.local")
	CurveSockets(z, fwd)
	for _, name := range []string{"frontend", "backend"} {
		s := fwd.Socket(name).Security
		if !s.Server || s.AllowedClientKeysDir != "/etc/zmq-curve/allowed/"+name || s.ServerPublicKeyFile != "" {
			t.Fatalf("bound %s: %+v", name, s)
		}
		if err := s.Validate(name); err != nil {
			t.Fatal(err)
		}
	}
	// The environment names the key files for libzmq applications.
	env := map[string]string{}
	for _, e := range cfg.Env() {
		env[e.Name] = e.Value
	}
	if env["ZMQ_IN_CURVE_SERVERKEY_FILE"] != "/etc/zmq-curve/servers/pub" || env["ZMQ_IN_MECHANISM"] != "CURVE" {
		t.Fatalf("env: %v", env)
	}

	null := fixture()
	nc := Resolve(null, &null.Spec.Components[2], "cluster.local")
	CurveSockets(null, nc)
	if nc.Socket("in").Security != nil {
		t.Fatal("a NULL topology got a security block")
	}
}

// TestCurveClients: a bound socket allows exactly its declared connectors
// and its own component (for its sidecar's probe).
func TestCurveClients(t *testing.T) {
	z, _ := curveFixture()
	pub, fwd := &z.Spec.Components[0], &z.Spec.Components[1]
	for _, tc := range []struct {
		c      *zmqv1.Component
		socket string
		want   []string
	}{
		{pub, "out", []string{"pub", "sub"}},
		{fwd, "frontend", []string{"fwd", "pub"}},
		{fwd, "backend", []string{"fwd"}},
	} {
		if got := CurveClients(z, tc.c, tc.socket); !slices.Equal(got, tc.want) {
			t.Errorf("%s/%s: got %v, want %v", tc.c.Name, tc.socket, got, tc.want)
		}
	}
}

func TestCurveKeysConfigMap(t *testing.T) {
	z, keys := curveFixture()
	pub := &z.Spec.Components[0]
	cm, err := CurveKeysConfigMap(z, pub, keys)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"pub": "PUBKEY\n", "fwd": "FWDKEY\n", "sub": "SUBKEY\n", "sub.previous": "SUBOLD\n"}
	if *cm.Name != "t-pub-curve-keys" || len(cm.Data) != len(want) {
		t.Fatalf("got %s %v", *cm.Name, cm.Data)
	}
	for k, v := range want {
		if cm.Data[k] != v {
			t.Fatalf("%s: got %q, want %q", k, cm.Data[k], v)
		}
	}
	delete(keys, "sub")
	if _, err := CurveKeysConfigMap(z, pub, keys); err == nil || !strings.Contains(err.Error(), `component "sub"`) {
		t.Fatalf("missing key: %v", err)
	}
}

func TestCurvePodTemplate(t *testing.T) {
	z, keys := curveFixture()
	objs, err := Render(z, Options{ClusterDomain: "cluster.local", SidecarImage: "sidecar:1", CurveKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	var cms []string
	for _, o := range objs {
		if o.Kind == KindConfigMap {
			cms = append(cms, o.Name)
		}
	}
	for _, n := range []string{"t-pub-curve-keys", "t-fwd-curve-keys", "t-sub-curve-keys"} {
		if !slices.Contains(cms, n) {
			t.Fatalf("no ConfigMap %s in %v", n, cms)
		}
	}

	pub := &z.Spec.Components[0]
	render := func(keys CurvePublicKeys) *corev1ac.PodTemplateSpecApplyConfiguration {
		cfg := Resolve(z, pub, "cluster.local")
		CurveSockets(z, cfg)
		tpl, err := PodTemplate(z, pub, cfg, Options{SidecarImage: "sidecar:1"})
		if err != nil {
			t.Fatal(err)
		}
		addCurve(z, pub, tpl, keys)
		return tpl
	}
	tpl := render(keys)
	vols := map[string]*corev1ac.VolumeApplyConfiguration{}
	for i := range tpl.Spec.Volumes {
		vols[*tpl.Spec.Volumes[i].Name] = &tpl.Spec.Volumes[i]
	}
	key := vols["zmq-curve-key"]
	if key == nil || *key.Secret.SecretName != "t-pub-curve" || len(key.Secret.Items) != 2 {
		t.Fatalf("key volume %+v", key)
	}
	servers := vols["zmq-curve-servers"]
	if servers == nil || *servers.ConfigMap.Name != "t-pub-curve-keys" || len(servers.ConfigMap.Items) != 1 || *servers.ConfigMap.Items[0].Key != "fwd" {
		t.Fatalf("servers volume %+v", servers)
	}
	allowed := vols["zmq-curve-allowed-out"]
	if allowed == nil || !*allowed.ConfigMap.Optional {
		t.Fatalf("allowed volume %+v", allowed)
	}
	var items []string
	for _, it := range allowed.ConfigMap.Items {
		items = append(items, *it.Key+"->"+*it.Path)
	}
	if want := []string{"pub->pub", "pub.previous->pub.previous", "sub->sub", "sub.previous->sub.previous"}; !slices.Equal(items, want) {
		t.Fatalf("allowed items %v, want %v", items, want)
	}
	// Every container, the sidecar included, sees the keys.
	ctrs := append(append([]corev1ac.ContainerApplyConfiguration{}, tpl.Spec.Containers...), tpl.Spec.InitContainers...)
	for _, c := range ctrs {
		var paths []string
		for _, m := range c.VolumeMounts {
			paths = append(paths, *m.MountPath)
		}
		for _, p := range []string{"/etc/zmq-curve/key", "/etc/zmq-curve/servers", "/etc/zmq-curve/allowed/out"} {
			if !slices.Contains(paths, p) {
				t.Fatalf("container %s lacks %s: %v", *c.Name, p, paths)
			}
		}
	}

	// The digest follows the component's own key and its servers', not
	// its clients' (their directory is re-read live).
	d := tpl.Annotations[AnnotationCurveKeys]
	for _, tc := range []struct {
		name   string
		change func(CurvePublicKeys)
		rolls  bool
	}{
		{"own key", func(k CurvePublicKeys) { k["pub"] = ComponentPublicKeys{Current: "NEW", Previous: "PUBKEY"} }, true},
		{"server key", func(k CurvePublicKeys) { k["fwd"] = ComponentPublicKeys{Current: "NEW"} }, true},
		{"client key", func(k CurvePublicKeys) { k["sub"] = ComponentPublicKeys{Current: "NEW"} }, false},
	} {
		k := CurvePublicKeys{}
		for n, v := range keys {
			k[n] = v
		}
		tc.change(k)
		if got := render(k).Annotations[AnnotationCurveKeys]; (got != d) != tc.rolls {
			t.Errorf("%s: digest %s -> %s, rolls=%v", tc.name, d, got, tc.rolls)
		}
	}

	// A NULL topology gets none of it.
	null := fixture()
	objs, err = Render(null, Options{ClusterDomain: "cluster.local", SidecarImage: "sidecar:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if strings.HasSuffix(o.Name, "-curve-keys") {
			t.Fatalf("NULL topology rendered %s", o.Name)
		}
	}
}
