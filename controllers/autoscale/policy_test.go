package autoscale

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

func TestPolicyFor(t *testing.T) {
	target := resource.MustParse("64Ki")
	for _, tc := range []struct {
		name string
		spec *zmqv1.AutoscalingSpec
		want Policy
		ok   bool
	}{
		{"no autoscaling", nil, Policy{}, false},
		{"External", &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingExternal}, Policy{}, false},
		{"Backlog without its required fields", &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingBacklog}, Policy{}, false},
		{"Backlog, defaults", &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingBacklog, MaxReplicas: ptr.To[int32](7), TargetBacklogPerReplica: &target},
			Policy{MinReplicas: 1, MaxReplicas: 7, TargetPerReplica: 65536}, true},
		{"Backlog, every field", &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingBacklog, MinReplicas: ptr.To[int32](2), MaxReplicas: ptr.To[int32](7),
			TargetBacklogPerReplica: &target, StabilizationWindowSeconds: ptr.To[int32](30), ScaleUpReplicasPerPeriod: ptr.To[int32](3), ScaleDownReplicasPerPeriod: ptr.To[int32](1)},
			Policy{MinReplicas: 2, MaxReplicas: 7, TargetPerReplica: 65536, StabilizationWindow: 30 * time.Second, ScaleUpPods: 3, ScaleDownPods: 1}, true},
		{"Backlog, no window", &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingBacklog, MaxReplicas: ptr.To[int32](7), TargetBacklogPerReplica: &target, StabilizationWindowSeconds: ptr.To[int32](0)},
			Policy{MinReplicas: 1, MaxReplicas: 7, TargetPerReplica: 65536, StabilizationWindow: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PolicyFor(&zmqv1.Component{Autoscaling: tc.spec})
			if ok != tc.ok || got != tc.want {
				t.Errorf("PolicyFor = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	// The recommender reads "no window" as none, not the default.
	if w := NewRecommender(Policy{MaxReplicas: 1, TargetPerReplica: 1, StabilizationWindow: -1}).Policy().StabilizationWindow; w >= 0 {
		t.Errorf("window %s", w)
	}
}
