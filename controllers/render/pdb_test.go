package render

import (
	"encoding/json"
	"testing"

	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

func TestWantsPodDisruptionBudget(t *testing.T) {
	disabled := &zmqv1.PodDisruptionBudgetSpec{Mode: zmqv1.PodDisruptionBudgetDisabled}
	auto := &zmqv1.PodDisruptionBudgetSpec{Mode: zmqv1.PodDisruptionBudgetAuto}
	external := &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingExternal}
	for _, tc := range []struct {
		name string
		c    zmqv1.Component
		want bool
	}{
		{"default replicas", zmqv1.Component{}, false},
		{"one replica", zmqv1.Component{Replicas: ptr.To[int32](1)}, false},
		{"zero replicas", zmqv1.Component{Replicas: ptr.To[int32](0)}, false},
		{"two replicas", zmqv1.Component{Replicas: ptr.To[int32](2)}, true},
		{"two replicas, Auto", zmqv1.Component{Replicas: ptr.To[int32](2), PodDisruptionBudget: auto}, true},
		{"two replicas, Disabled", zmqv1.Component{Replicas: ptr.To[int32](2), PodDisruptionBudget: disabled}, false},
		{"external scaling from one", zmqv1.Component{Replicas: ptr.To[int32](1), Autoscaling: external}, true},
		{"external scaling, Disabled", zmqv1.Component{Autoscaling: external, PodDisruptionBudget: disabled}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WantsPodDisruptionBudget(&tc.c); got != tc.want {
				t.Errorf("WantsPodDisruptionBudget() = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	z := fixture()
	c := &z.Spec.Components[0]
	raw, err := json.Marshal(PodDisruptionBudget(z, c))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"PodDisruptionBudget","apiVersion":"policy/v1","metadata":{"name":"t-pub","namespace":"ns",` +
		`"labels":{"app.kubernetes.io/instance":"t-pub","app.kubernetes.io/managed-by":"zmq-operator","app.kubernetes.io/name":"pub","app.kubernetes.io/part-of":"t","zmq.topology.dev/component":"pub","zmq.topology.dev/topology":"t"},` +
		`"ownerReferences":[{"apiVersion":"zmq.topology.dev/v1alpha1","kind":"ZMQTopology","name":"t","uid":"uid-1","controller":true,"blockOwnerDeletion":true}]},` +
		`"spec":{"selector":{"matchLabels":{"zmq.topology.dev/component":"pub","zmq.topology.dev/topology":"t"}},"maxUnavailable":1}}`
	if string(raw) != want {
		t.Errorf("PodDisruptionBudget() =\n%s\nwant\n%s", raw, want)
	}
}
