package controllers

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// TestAdmissionRejectsInvalidTopologies checks that the CRD's OpenAPI and
// CEL rules reject bad objects at admission, with a message naming the
// field, before the controller ever sees them.
func TestAdmissionRejectsInvalidTopologies(t *testing.T) {
	ctx, _ := envtestOnly(t)
	ns := newNamespace(ctx, t)

	for _, tc := range []struct {
		name   string
		mutate func(z *zmqv1.ZMQTopology)
		want   []string
	}{
		{"component name not a DNS label", func(z *zmqv1.ZMQTopology) { z.Spec.Components[0].Name = "Ventilator" },
			[]string{"spec.components[0].name", "should match"}},
		{"component name too long", func(z *zmqv1.ZMQTopology) { z.Spec.Components[2].Name = strings.Repeat("s", 21) },
			[]string{"spec.components[2].name", "may not be more than 20"}},
		{"port zero", func(z *zmqv1.ZMQTopology) { z.Spec.Components[0].Sockets[0].Bind.Port = 0 },
			[]string{"spec.components[0].sockets[0].bind.port", "should be greater than or equal to 1"}},
		{"port above 65535", func(z *zmqv1.ZMQTopology) { z.Spec.Components[2].Sockets[0].Bind.Port = 70000 },
			[]string{"spec.components[2].sockets[0].bind.port", "should be less than or equal to 65535"}},
		{"bind and connect both set", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[0].Sockets[0].Connect = &zmqv1.ConnectSpec{Address: "tcp://a:1"}
		}, []string{"spec.components[0].sockets[0]", "exactly one of bind or connect must be set"}},
		{"neither bind nor connect", func(z *zmqv1.ZMQTopology) { z.Spec.Components[0].Sockets[0].Bind = nil },
			[]string{"spec.components[0].sockets[0]", "exactly one of bind or connect must be set"}},
		{"neither template nor device", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Template = nil },
			[]string{"spec.components[1]", "exactly one of template or device must be set"}},
		{"template and device both set", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[1].Device = &zmqv1.DeviceSpec{Type: zmqv1.Streamer}
		}, []string{"spec.components[1]", "exactly one of template or device must be set"}},
		{"unknown socket type", func(z *zmqv1.ZMQTopology) { z.Spec.Components[0].Sockets[0].Type = "STREAM" },
			[]string{"spec.components[0].sockets[0].type", "Unsupported value", "STREAM"}},
		{"unknown device type", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[1].Template = nil
			z.Spec.Components[1].Device = &zmqv1.DeviceSpec{Type: "Broker"}
		}, []string{"spec.components[1].device.type", "Unsupported value", "Broker"}},
		{"unknown endpointUpdates", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].EndpointUpdates = "Sometimes" },
			[]string{"spec.components[1].endpointUpdates", "Unsupported value", "Sometimes"}},
		{"duplicate component names", func(z *zmqv1.ZMQTopology) { z.Spec.Components[2].Name = "worker" },
			[]string{"spec.components[2]", "Duplicate value"}},
		{"duplicate socket names", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Sockets[1].Name = "tasks" },
			[]string{"spec.components[1].sockets[1]", "Duplicate value"}},
		{"negative replicas", func(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Replicas = ptr.To[int32](-1) },
			[]string{"spec.components[1].replicas", "should be greater than or equal to 0"}},
		{"socket name longer than a port name", func(z *zmqv1.ZMQTopology) { z.Spec.Components[2].Sockets[0].Name = "results-results1" },
			[]string{"spec.components[2].sockets[0].name", "may not be more than 15"}},
		{"connect to component and address at once", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[1].Sockets[0].Connect.Address = "tcp://legacy:7000"
		}, []string{"spec.components[1].sockets[0].connect", "exactly one of component or address must be set"}},
		{"connect to a component without a socket", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[1].Sockets[0].Connect.Socket = ""
		}, []string{"spec.components[1].sockets[0].connect", "component and socket must be set together"}},
		{"address that is not tcp", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[1].Sockets[0].Connect = &zmqv1.ConnectSpec{Address: "http://legacy:7000"}
		}, []string{"spec.components[1].sockets[0].connect.address", "should match"}},
		{"heartbeat timeout shorter than interval", func(z *zmqv1.ZMQTopology) {
			z.Spec.SocketDefaults.Heartbeat = &zmqv1.HeartbeatOptions{IntervalMillis: ptr.To[int32](1000), TimeoutMillis: ptr.To[int32](10)}
		}, []string{"spec.socketDefaults.heartbeat", "timeoutMillis must not be shorter than intervalMillis"}},
		{"negative high-water mark", func(z *zmqv1.ZMQTopology) { z.Spec.SocketDefaults.SndHWM = ptr.To[int32](-5) },
			[]string{"spec.socketDefaults.sndhwm", "should be greater than or equal to 0"}},
		{"max message size below -1", func(z *zmqv1.ZMQTopology) { z.Spec.SocketDefaults.MaxMsgSize = ptr.To[int64](-2) },
			[]string{"spec.socketDefaults.maxMsgSize", "should be greater than or equal to -1"}},
		{"negative connect timeout", func(z *zmqv1.ZMQTopology) { z.Spec.SocketDefaults.ConnectTimeoutMillis = ptr.To[int32](-1) },
			[]string{"spec.socketDefaults.connectTimeoutMillis", "should be greater than or equal to 0"}},
		{"allowFrom peer with nothing set", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[0].Sockets[0].Bind.AllowFrom = []networkingv1.NetworkPolicyPeer{{}}
		}, []string{"spec.components[0].sockets[0].bind.allowFrom", "a peer sets podSelector, namespaceSelector or ipBlock"}},
		{"allowFrom ipBlock with a pod selector", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[0].Sockets[0].Bind.AllowFrom = []networkingv1.NetworkPolicyPeer{{
				IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}, PodSelector: &metav1.LabelSelector{}}}
		}, []string{"spec.components[0].sockets[0].bind.allowFrom", "ipBlock cannot be combined with podSelector or namespaceSelector"}},
		{"allowFrom ipBlock that is not a CIDR", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[0].Sockets[0].Bind.AllowFrom = []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1"}}}
		}, []string{"spec.components[0].sockets[0].bind.allowFrom[0].ipBlock.cidr", "must be a CIDR"}},
		{"backlog autoscaling without maxReplicas and target", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[1].Autoscaling = &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingBacklog}
		}, []string{"spec.components[1].autoscaling", "mode Backlog needs maxReplicas and targetBacklogPerReplica"}},
		{"backlog autoscaling with minReplicas above maxReplicas", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[1].Autoscaling = &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingBacklog,
				MinReplicas: ptr.To[int32](4), MaxReplicas: ptr.To[int32](2), TargetBacklogPerReplica: ptr.To(resource.MustParse("64Ki"))}
		}, []string{"spec.components[1].autoscaling.maxReplicas", "minReplicas must not exceed maxReplicas"}},
		{"backlog fields under External", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[1].Autoscaling = &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingExternal, MaxReplicas: ptr.To[int32](2)}
		}, []string{"spec.components[1].autoscaling", "apply to mode Backlog only"}},
		{"backlog stabilization window above an hour", func(z *zmqv1.ZMQTopology) {
			z.Spec.Components[1].Autoscaling = &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingBacklog, MaxReplicas: ptr.To[int32](2),
				TargetBacklogPerReplica: ptr.To(resource.MustParse("64Ki")), StabilizationWindowSeconds: ptr.To[int32](3601)}
		}, []string{"spec.components[1].autoscaling.stabilizationWindowSeconds", "should be less than or equal to 3600"}},
		{"device ioThreads negative", func(z *zmqv1.ZMQTopology) {
			*z = *loadSample(t, "zmq_v1alpha1_pubsub.yaml", ns) // a sample with a device
			z.Spec.Components[0].Device.IOThreads = ptr.To[int32](-1)
		}, []string{"spec.components[0].device.ioThreads", "should be greater than or equal to 0"}},
		{"device ioThreads above the most", func(z *zmqv1.ZMQTopology) {
			*z = *loadSample(t, "zmq_v1alpha1_pubsub.yaml", ns)
			z.Spec.Components[0].Device.IOThreads = ptr.To[int32](zmqv1.MaxDeviceIOThreads + 1)
		}, []string{"spec.components[0].device.ioThreads", "should be less than or equal to 64"}},
		{"no components", func(z *zmqv1.ZMQTopology) { z.Spec.Components = nil },
			[]string{"spec.components", "Required value"}},
		{"name too long for child names", func(z *zmqv1.ZMQTopology) { z.Name = strings.Repeat("n", 31) },
			[]string{"metadata.name must be at most 30 characters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
			tc.mutate(z)
			err := k8sClient.Create(ctx, z)
			if err == nil {
				t.Fatal("Create succeeded; want it rejected at admission")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}

	// The fixture itself is valid, so every rejection above is due to its
	// one change.
	if err := k8sClient.Create(ctx, loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)); err != nil {
		t.Fatalf("the unmodified sample was rejected: %v", err)
	}
	// The device's cases, at the edge they stop short of.
	z := loadSample(t, "zmq_v1alpha1_pubsub.yaml", ns)
	z.Spec.Components[0].Device.IOThreads = ptr.To[int32](zmqv1.MaxDeviceIOThreads)
	if err := k8sClient.Create(ctx, z); err != nil {
		t.Fatalf("ioThreads %d was rejected: %v", zmqv1.MaxDeviceIOThreads, err)
	}
}
