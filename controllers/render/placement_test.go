package render

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

func podSpecOf(t *testing.T, z *zmqv1.ZMQTopology, i int, opts Options) *corev1ac.PodSpecApplyConfiguration {
	t.Helper()
	c := &z.Spec.Components[i]
	tpl, err := PodTemplate(z, c, Resolve(z, c, "cluster.local"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return tpl.Spec
}

func TestDeviceTemplatePlacement(t *testing.T) {
	z := fixture()
	fwd := &z.Spec.Components[1]
	in := zmqv1.DevicePodSpec{
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}},
		}}},
		Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "zmq", Effect: corev1.TaintEffectNoSchedule}},
		NodeSelector:      map[string]string{"pool": "zmq"},
		PriorityClassName: "zmq-critical",
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 2, TopologyKey: "topology.kubernetes.io/zone",
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"x": "y"}}}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "own"}, {Name: "shared"}},
	}
	fwd.Device.Template = &zmqv1.DevicePodTemplate{Spec: in}
	spec := podSpecOf(t, z, 1, Options{SidecarImage: "s", DefaultImagePullSecrets: []string{"shared", "default"}})

	// Compare through the typed PodSpec: the apply configuration and the
	// API type share one JSON form.
	var got corev1.PodSpec
	raw, _ := json.Marshal(spec)
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Affinity, in.Affinity) {
		t.Errorf("affinity = %+v; want %+v", got.Affinity, in.Affinity)
	}
	if !reflect.DeepEqual(got.Tolerations, in.Tolerations) {
		t.Errorf("tolerations = %+v; want %+v", got.Tolerations, in.Tolerations)
	}
	if !reflect.DeepEqual(got.NodeSelector, in.NodeSelector) || got.PriorityClassName != "zmq-critical" {
		t.Errorf("nodeSelector, priorityClassName = %v, %q", got.NodeSelector, got.PriorityClassName)
	}
	// The user's constraints replace the default spread.
	if !reflect.DeepEqual(got.TopologySpreadConstraints, in.TopologySpreadConstraints) {
		t.Errorf("topologySpreadConstraints = %+v; want only the template's", got.TopologySpreadConstraints)
	}
	// The template's pull secrets first, then the operator's defaults not
	// already named.
	wantSecrets := []corev1.LocalObjectReference{{Name: "own"}, {Name: "shared"}, {Name: "default"}}
	if !reflect.DeepEqual(got.ImagePullSecrets, wantSecrets) {
		t.Errorf("imagePullSecrets = %v; want %v", got.ImagePullSecrets, wantSecrets)
	}
	// The device's own fields are untouched.
	if len(got.Containers) != 1 || got.Containers[0].Name != DeviceContainer {
		t.Errorf("containers = %+v", got.Containers)
	}
}

func TestDefaultSpread(t *testing.T) {
	soft := []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway}}
	for _, tc := range []struct {
		name   string
		i      int // component of the fixture
		mutate func(*zmqv1.Component)
		want   []corev1.TopologySpreadConstraint // without the label selector
	}{
		{"per-replica binder (StatefulSet)", 0, nil, soft},
		{"device with two replicas", 1, nil, soft},
		{"device with one replica", 1, func(c *zmqv1.Component) { c.Replicas = ptr.To[int32](1) }, nil},
		{"connector-only component", 2, func(c *zmqv1.Component) { c.Replicas = ptr.To[int32](5) }, nil},
		{"binder with its own constraints", 0, func(c *zmqv1.Component) {
			c.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 3, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
		}, []corev1.TopologySpreadConstraint{{MaxSkew: 3, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := fixture()
			c := &z.Spec.Components[tc.i]
			if tc.mutate != nil {
				tc.mutate(c)
			}
			spec := podSpecOf(t, z, tc.i, Options{SidecarImage: "s"})
			var got []corev1.TopologySpreadConstraint
			raw, _ := json.Marshal(spec.TopologySpreadConstraints)
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i].LabelSelector != nil {
					if want := SelectorLabels(z, c); !reflect.DeepEqual(got[i].LabelSelector.MatchLabels, want) {
						t.Errorf("labelSelector = %v; want %v", got[i].LabelSelector.MatchLabels, want)
					}
					got[i].LabelSelector = nil
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("topologySpreadConstraints = %+v; want %+v", got, tc.want)
			}
		})
	}
}
