package v1alpha1

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestValidateAutoscalingAndPlacement breaks the fixture once per case in
// the fields issue 12 adds: external autoscaling and device.template.
func TestValidateAutoscalingAndPlacement(t *testing.T) {
	external := &AutoscalingSpec{Mode: AutoscalingExternal}
	for _, tc := range []struct {
		name   string
		mutate func(*ZMQTopology)
		want   []string // each must appear in the aggregated message; none: valid
	}{
		{"external scaling of a connector-only component", func(z *ZMQTopology) {
			z.Spec.Components[2].Autoscaling = external
		}, nil},
		{"external scaling of a component others connect to", func(z *ZMQTopology) {
			z.Spec.Components[1].Autoscaling = external
		}, []string{`spec.components[1].autoscaling.mode: Invalid value: "External": consumer/in connects to this component`}},
		{"external scaling of a PAIR", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets[1] = Socket{Name: "p", Type: PAIR, Connect: &ConnectSpec{Address: "tcp://x:1"}}
			z.Spec.Components[2].Autoscaling = external
		}, []string{`spec.components[2].autoscaling.mode: Invalid value: "External": socket "p" is a PAIR`}},
		{"unknown autoscaling mode", func(z *ZMQTopology) {
			z.Spec.Components[2].Autoscaling = &AutoscalingSpec{Mode: "Magic"}
		}, []string{`spec.components[2].autoscaling.mode: Unsupported value: "Magic"`}},
		{"a complete device template", func(z *ZMQTopology) {
			z.Spec.Components[1].Device.Template = &DevicePodTemplate{Spec: DevicePodSpec{
				Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}},
					}}}}},
				Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "zmq", Effect: corev1.TaintEffectNoSchedule}},
				NodeSelector:      map[string]string{"kubernetes.io/os": "linux"},
				PriorityClassName: "zmq-critical",
				TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone",
					WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}}},
				ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}},
			}}
		}, nil},
		{"bad toleration", func(z *ZMQTopology) {
			z.Spec.Components[1].Device.Template = &DevicePodTemplate{Spec: DevicePodSpec{
				Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v", Effect: "Sometimes"}},
			}}
		}, []string{
			`spec.components[1].device.template.spec.tolerations[0].value: Invalid value: "v": must be empty when operator is Exists`,
			`spec.components[1].device.template.spec.tolerations[0].effect: Unsupported value: "Sometimes"`,
		}},
		{"bad node selector and priority class", func(z *ZMQTopology) {
			z.Spec.Components[1].Device.Template = &DevicePodTemplate{Spec: DevicePodSpec{
				NodeSelector:      map[string]string{"bad key!": "x"},
				PriorityClassName: "Not_A_Name",
			}}
		}, []string{
			`spec.components[1].device.template.spec.nodeSelector: Invalid value: "bad key!"`,
			`spec.components[1].device.template.spec.priorityClassName: Invalid value: "Not_A_Name"`,
		}},
		{"bad spread", func(z *ZMQTopology) {
			c := corev1.TopologySpreadConstraint{MaxSkew: 0, TopologyKey: "", WhenUnsatisfiable: "Never", MinDomains: ptr.To[int32](2)}
			z.Spec.Components[1].Device.Template = &DevicePodTemplate{Spec: DevicePodSpec{
				TopologySpreadConstraints: []corev1.TopologySpreadConstraint{c, c},
			}}
		}, []string{
			`spec.components[1].device.template.spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0`,
			`spec.components[1].device.template.spec.topologySpreadConstraints[0].topologyKey: Required value`,
			`spec.components[1].device.template.spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: "Never"`,
			`spec.components[1].device.template.spec.topologySpreadConstraints[0].minDomains: Invalid value: 2: only valid with whenUnsatisfiable DoNotSchedule`,
			`spec.components[1].device.template.spec.topologySpreadConstraints[1]: Duplicate value`,
		}},
		{"bad affinity", func(z *ZMQTopology) {
			z.Spec.Components[1].Device.Template = &DevicePodTemplate{Spec: DevicePodSpec{Affinity: &corev1.Affinity{
				NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
					Weight: 0, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: "Near"}}},
				}}},
				PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{}}},
			}}}
		}, []string{
			`spec.components[1].device.template.spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0`,
			`spec.components[1].device.template.spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].operator: Unsupported value: "Near"`,
			`spec.components[1].device.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value`,
		}},
		{"unnamed pull secret", func(z *ZMQTopology) {
			z.Spec.Components[1].Device.Template = &DevicePodTemplate{Spec: DevicePodSpec{
				ImagePullSecrets: []corev1.LocalObjectReference{{Name: ""}, {Name: "UPPER"}},
			}}
		}, []string{
			`spec.components[1].device.template.spec.imagePullSecrets[0].name: Required value`,
			`spec.components[1].device.template.spec.imagePullSecrets[1].name: Invalid value: "UPPER"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := validTopology()
			tc.mutate(z)
			errs := z.Validate()
			got := errs.ToAggregate()
			if len(tc.want) == 0 {
				if got != nil {
					t.Fatalf("Validate() = %v; want no errors", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("Validate() = nil; want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("Validate() = %v\nwant it to contain %q", got, w)
				}
			}
		})
	}
}
