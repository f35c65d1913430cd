package v1alpha1

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// validTopology is the one good fixture: a pipeline with a Streamer device.
func validTopology() *ZMQTopology {
	tpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
	return &ZMQTopology{
		ObjectMeta: metav1.ObjectMeta{Name: "t", Namespace: "ns"},
		Spec: ZMQTopologySpec{Components: []Component{
			{Name: "producer", Template: tpl, Sockets: []Socket{
				{Name: "out", Type: PUSH, Bind: &BindSpec{Port: 5000}},
				{Name: "ctl", Type: REP, Bind: &BindSpec{Port: 5001, AllowFrom: []networkingv1.NetworkPolicyPeer{
					{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "ops"}}, PodSelector: &metav1.LabelSelector{}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.0.1.0/24"}}},
				}}},
			}},
			{Name: "stream", Device: &DeviceSpec{Type: Streamer}, Sockets: []Socket{
				{Name: "frontend", Type: PULL, Connect: &ConnectSpec{Component: "producer", Socket: "out"}},
				{Name: "backend", Type: PUSH, Bind: &BindSpec{Port: 6000}},
			}},
			{Name: "consumer", Template: tpl, Sockets: []Socket{
				{Name: "in", Type: PULL, Connect: &ConnectSpec{Component: "stream", Socket: "backend"}},
				{Name: "legacy", Type: SUB, Connect: &ConnectSpec{Address: "tcp://legacy.example:7000"}},
				{Name: "v6", Type: SUB, Connect: &ConnectSpec{Address: "tcp://[fd00::1]:7001"}},
				{Name: "v4", Type: SUB, Connect: &ConnectSpec{Address: "tcp://10.0.0.1:65535"}},
			}},
		}},
	}
}

func TestValidateAcceptsFixture(t *testing.T) {
	if errs := validTopology().Validate(); len(errs) != 0 {
		t.Fatalf("Validate() = %v; want no errors", errs)
	}
}

// TestValidateDeviceIOThreadsLimits: both ends of device.ioThreads'
// range are admitted (the values beyond them are in TestValidate).
func TestValidateDeviceIOThreadsLimits(t *testing.T) {
	for _, n := range []int32{0, 1, MaxDeviceIOThreads} {
		z := validTopology()
		z.Spec.Components[1].Device.IOThreads = ptr.To(n)
		if errs := z.Validate(); len(errs) != 0 {
			t.Errorf("ioThreads %d: Validate() = %v; want no errors", n, errs)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*ZMQTopology)
		want   []string // each must appear in the aggregated message
	}{
		{"allowFrom peer with nothing set", func(z *ZMQTopology) {
			z.Spec.Components[0].Sockets[0].Bind.AllowFrom = []networkingv1.NetworkPolicyPeer{{}}
		}, []string{`spec.components[0].sockets[0].bind.allowFrom[0]: Required value: a peer sets podSelector, namespaceSelector or ipBlock`}},
		{"allowFrom peer mixing ipBlock and a selector", func(z *ZMQTopology) {
			z.Spec.Components[0].Sockets[0].Bind.AllowFrom = []networkingv1.NetworkPolicyPeer{{
				IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}, PodSelector: &metav1.LabelSelector{}}}
		}, []string{`spec.components[0].sockets[0].bind.allowFrom[0].ipBlock: Forbidden: ipBlock cannot be combined`}},
		{"allowFrom ipBlock that is not a CIDR, except outside it", func(z *ZMQTopology) {
			z.Spec.Components[1].Sockets[1].Bind.AllowFrom = []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1"}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.1.0.0/24", "10.0.0.0/16"}}}}
		}, []string{`spec.components[1].sockets[1].bind.allowFrom[0].ipBlock.cidr: Invalid value: "10.0.0.1": must be a CIDR`,
			`spec.components[1].sockets[1].bind.allowFrom[1].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a CIDR strictly inside 10.0.0.0/16`,
			`spec.components[1].sockets[1].bind.allowFrom[1].ipBlock.except[1]: Invalid value: "10.0.0.0/16": must be a CIDR strictly inside`}},
		{"allowFrom selector with a bad label key", func(z *ZMQTopology) {
			z.Spec.Components[0].Sockets[1].Bind.AllowFrom = []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"bad key": "x"}}}}
		}, []string{`spec.components[0].sockets[1].bind.allowFrom[0].namespaceSelector.matchLabels: Invalid value: "bad key"`}},
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
		{"unknown endpointUpdates", func(z *ZMQTopology) {
			z.Spec.Components[2].EndpointUpdates = "Sometimes"
		}, []string{`spec.components[2].endpointUpdates: Unsupported value: "Sometimes": supported values: "Restart", "Live"`}},
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
		{"topology name with a dot (example 1)", func(z *ZMQTopology) { z.Name = "my.pipe" },
			[]string{`metadata.name: Invalid value: "my.pipe": a DNS-1035 label must consist of`}},
		{"topology name starting with a digit", func(z *ZMQTopology) { z.Name = "1pipe" },
			[]string{`metadata.name: Invalid value: "1pipe"`}},
		{"topology name too long", func(z *ZMQTopology) { z.Name = "t" + strings.Repeat("x", MaxTopologyNameLength) },
			[]string{`metadata.name: Too long: may not be more than 30 bytes`}},
		{"component name with a dot", func(z *ZMQTopology) {
			z.Spec.Components[2].Name = "con.sumer"
		}, []string{`spec.components[2].name: Invalid value: "con.sumer"`}},
		{"socket name with consecutive hyphens (example 2)", func(z *ZMQTopology) {
			z.Spec.Components[0].Sockets[0].Name = "re--sults"
			z.Spec.Components[1].Sockets[0].Connect.Socket = "re--sults"
		}, []string{`spec.components[0].sockets[0].name: Invalid value: "re--sults": must not contain consecutive hyphens`}},
		{"socket name longer than a port name", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[1].Name = "legacy-legacy-le"
		}, []string{`spec.components[2].sockets[1].name: Invalid value: "legacy-legacy-le": must be no more than 15 characters`}},
		{"socket named like the sidecar's port", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[1].Name = SidecarPortName
		}, []string{`spec.components[2].sockets[1].name: Invalid value: "zmq-metrics": port name "zmq-metrics" is reserved`}},
		{"children of two components share a name (example 3)", func(z *ZMQTopology) {
			z.Spec.Components[0].Name = "x"
			z.Spec.Components[0].Replicas = ptr.To[int32](2)
			z.Spec.Components[1].Sockets[0].Connect.Component = "x"
			z.Spec.Components[1].Name = "x-headless"
			z.Spec.Components[2].Sockets[0].Connect.Component = "x-headless"
		}, []string{`spec.components[1].name: Invalid value: "x-headless": its Service "t-x-headless" is also a child of component "x"`}},
		{"a single-replica component reserves its headless name too", func(z *ZMQTopology) {
			z.Spec.Components[2].Name = "producer-headless"
		}, []string{`spec.components[2].name: Invalid value: "producer-headless": its Service "t-producer-headless" is also a child of component "producer"`}},
		{"container named like the sidecar (example 4)", func(z *ZMQTopology) {
			z.Spec.Components[0].Template.Spec.Containers[0].Name = SidecarContainerName
		}, []string{`spec.components[0].template.spec.containers[0].name: Invalid value: "zmq-sidecar": reserved for the injected zmq-sidecar container`}},
		{"init container named like the sidecar", func(z *ZMQTopology) {
			z.Spec.Components[2].Template.Spec.InitContainers = []corev1.Container{{Name: SidecarContainerName, Image: "x"}}
		}, []string{`spec.components[2].template.spec.initContainers[0].name: Invalid value: "zmq-sidecar"`}},
		{"template without containers (example 5)", func(z *ZMQTopology) {
			z.Spec.Components[0].Template = &corev1.PodTemplateSpec{}
		}, []string{`spec.components[0].template.spec.containers: Required value: a template needs at least one container`}},
		{"template that does not restart", func(z *ZMQTopology) {
			z.Spec.Components[0].Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}, []string{`spec.components[0].template.spec.restartPolicy: Invalid value: "Never": the restartPolicy of a Deployment's or StatefulSet's pods must be Always`}},
		{"volume named like the config volume", func(z *ZMQTopology) {
			z.Spec.Components[0].Template.Spec.Volumes = []corev1.Volume{{Name: ConfigVolumeName}}
		}, []string{`spec.components[0].template.spec.volumes[0].name: Invalid value: "zmq-topology"`}},
		{"volume named like a CURVE key volume", func(z *ZMQTopology) {
			z.Spec.Components[0].Template.Spec.Volumes = []corev1.Volume{{Name: CurveVolumePrefix + "key"}}
		}, []string{`spec.components[0].template.spec.volumes[0].name: Invalid value: "zmq-curve-key": names starting with zmq-curve- are reserved`}},
		{"device ioThreads above the most", func(z *ZMQTopology) {
			z.Spec.Components[1].Device.IOThreads = ptr.To[int32](MaxDeviceIOThreads + 1)
		}, []string{`spec.components[1].device.ioThreads: Invalid value: 65: must be between 0 and 64`}},
		{"device ioThreads negative", func(z *ZMQTopology) {
			z.Spec.Components[1].Device.IOThreads = ptr.To[int32](-1)
		}, []string{`spec.components[1].device.ioThreads: Invalid value: -1: must be between 0 and 64`}},
		{"unknown security mechanism", func(z *ZMQTopology) {
			z.Spec.Security = &SecuritySpec{Mechanism: "PLAIN"}
		}, []string{`spec.security.mechanism: Unsupported value: "PLAIN": supported values: "NULL", "CURVE"`}},
		{"container port of the sidecar", func(z *ZMQTopology) {
			z.Spec.Components[0].Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: SidecarPort}}
		}, []string{`spec.components[0].template.spec.containers[0].ports[0].containerPort: Invalid value: 9917: port 9917 is reserved`}},
		{"container port named like an operator's port", func(z *ZMQTopology) {
			z.Spec.Components[0].Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: DeviceMetricsPortName, ContainerPort: 80}}
		}, []string{`spec.components[0].template.spec.containers[0].ports[0].name: Invalid value: "zmq-device": reserved for a port of the operator`}},
		{"container port named after a bound socket with another number", func(z *ZMQTopology) {
			z.Spec.Components[0].Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "out", ContainerPort: 80}}
		}, []string{`spec.components[0].template.spec.containers[0].ports[0].name: Invalid value: "out": is the name of the bound socket "out", whose port is 5000`}},
		{"template label that is not a label", func(z *ZMQTopology) {
			z.Spec.Components[0].Template.Labels = map[string]string{"team": "a b"}
		}, []string{`spec.components[0].template.metadata.labels[team]: Invalid value: "a b"`}},
		{"address port out of range (example 6)", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[1].Connect.Address = "tcp://legacy.example:99999"
		}, []string{`spec.components[2].sockets[1].connect.address: Invalid value: "tcp://legacy.example:99999": the port must be between 1 and 65535`}},
		{"address port zero", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[1].Connect.Address = "tcp://legacy.example:0"
		}, []string{`spec.components[2].sockets[1].connect.address`, "the port must be between 1 and 65535"}},
		{"address host not a DNS name", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[1].Connect.Address = "tcp://legacy_host:7000"
		}, []string{`spec.components[2].sockets[1].connect.address`, "must be tcp://<host>:<port>"}},
		{"address host a bad IPv4 address", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[1].Connect.Address = "tcp://10.0.0.256:7000"
		}, []string{`spec.components[2].sockets[1].connect.address`, "a numeric host must be an IPv4 address"}},
		{"address host an IPv4 address in brackets", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[1].Connect.Address = "tcp://[10.0.0.1]:7000"
		}, []string{`spec.components[2].sockets[1].connect.address`, "the host in brackets must be an IPv6 address"}},
		{"PAIR in a component of several replicas", func(z *ZMQTopology) {
			z.Spec.Components[0].Sockets[1].Type = PAIR
			z.Spec.Components[0].Replicas = ptr.To[int32](2)
		}, []string{`spec.components[0].replicas: Invalid value: 2: socket "ctl" is a PAIR, which has exactly one peer`}},
		{"two connects to one bound PAIR", func(z *ZMQTopology) {
			z.Spec.Components[0].Sockets[1].Type = PAIR
			z.Spec.Components[2].Sockets = append(z.Spec.Components[2].Sockets,
				Socket{Name: "p1", Type: PAIR, Connect: &ConnectSpec{Component: "producer", Socket: "ctl"}},
				Socket{Name: "p2", Type: PAIR, Connect: &ConnectSpec{Component: "producer", Socket: "ctl"}})
		}, []string{`spec.components[2].sockets[5].connect: Invalid value: "producer/ctl": the PAIR socket producer/ctl already has a peer, consumer/p1`}},
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
