package v1alpha1

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// backlog is a valid mode Backlog spec for the fixture's consumer.
func backlog() *AutoscalingSpec {
	return &AutoscalingSpec{Mode: AutoscalingBacklog, MinReplicas: ptr.To[int32](1), MaxReplicas: ptr.To[int32](8),
		TargetBacklogPerReplica: ptr.To(resource.MustParse("64Ki"))}
}

// TestValidateBacklogAutoscaling breaks the fixture once per rule of
// autoscaling.mode Backlog.
func TestValidateBacklogAutoscaling(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*ZMQTopology)
		want   []string // each must appear in the aggregated message; none: valid
	}{
		{"backlog scaling of a connector-only component", func(z *ZMQTopology) {
			z.Spec.Components[2].Autoscaling = backlog()
		}, nil},
		{"every optional field", func(z *ZMQTopology) {
			a := backlog()
			a.StabilizationWindowSeconds, a.ScaleUpReplicasPerPeriod, a.ScaleDownReplicasPerPeriod = ptr.To[int32](0), ptr.To[int32](2), ptr.To[int32](1)
			a.MinReplicas = nil
			z.Spec.Components[2].Autoscaling = a
		}, nil},
		{"maxReplicas and target missing", func(z *ZMQTopology) {
			z.Spec.Components[2].Autoscaling = &AutoscalingSpec{Mode: AutoscalingBacklog}
		}, []string{
			`spec.components[2].autoscaling.maxReplicas: Required value: mode Backlog needs the most replicas it may run`,
			`spec.components[2].autoscaling.targetBacklogPerReplica: Required value`,
		}},
		{"minReplicas above maxReplicas", func(z *ZMQTopology) {
			a := backlog()
			a.MinReplicas, a.MaxReplicas = ptr.To[int32](5), ptr.To[int32](3)
			z.Spec.Components[2].Autoscaling = a
		}, []string{`spec.components[2].autoscaling.maxReplicas: Invalid value: 3: must be at least minReplicas (5)`}},
		{"out of range", func(z *ZMQTopology) {
			a := backlog()
			a.MinReplicas, a.MaxReplicas = ptr.To[int32](0), ptr.To[int32](1001)
			a.StabilizationWindowSeconds, a.ScaleUpReplicasPerPeriod, a.ScaleDownReplicasPerPeriod = ptr.To[int32](3601), ptr.To[int32](0), ptr.To[int32](-1)
			z.Spec.Components[2].Autoscaling = a
		}, []string{
			`spec.components[2].autoscaling.minReplicas: Invalid value: 0: must be between 1 and 1000`,
			`spec.components[2].autoscaling.maxReplicas: Invalid value: 1001: must be between 1 and 1000`,
			`spec.components[2].autoscaling.stabilizationWindowSeconds: Invalid value: 3601: must be between 0 and 3600`,
			`spec.components[2].autoscaling.scaleUpReplicasPerPeriod: Invalid value: 0`,
			`spec.components[2].autoscaling.scaleDownReplicasPerPeriod: Invalid value: -1`,
		}},
		{"a target of 0 bytes", func(z *ZMQTopology) {
			a := backlog()
			a.TargetBacklogPerReplica = ptr.To(resource.MustParse("0"))
			z.Spec.Components[2].Autoscaling = a
		}, []string{`spec.components[2].autoscaling.targetBacklogPerReplica: Invalid value: "0": must be more than 0 bytes`}},
		{"a component others connect to", func(z *ZMQTopology) {
			z.Spec.Components[0].Autoscaling = backlog()
		}, []string{`spec.components[0].autoscaling.mode: Invalid value: "Backlog": stream/frontend connects to this component`}},
		{"a device", func(z *ZMQTopology) {
			z.Spec.Components[1].Autoscaling = backlog()
		}, []string{`spec.components[1].autoscaling.mode: Invalid value: "Backlog": a device is not scaled on backlog`}},
		{"no load-balanced input to measure", func(z *ZMQTopology) {
			z.Spec.Components[2].Sockets = z.Spec.Components[2].Sockets[1:] // SUB sockets only
			z.Spec.Components[2].Autoscaling = backlog()
		}, []string{`spec.components[2].autoscaling.mode: Invalid value: "Backlog": the backlog is measured on connecting sockets of type [PULL REP DEALER], and the component has none`}},
		{"backlog fields under External", func(z *ZMQTopology) {
			a := backlog()
			a.Mode = AutoscalingExternal
			z.Spec.Components[2].Autoscaling = a
		}, []string{
			`spec.components[2].autoscaling.minReplicas: Forbidden: applies to mode Backlog only`,
			`spec.components[2].autoscaling.maxReplicas: Forbidden: applies to mode Backlog only`,
			`spec.components[2].autoscaling.targetBacklogPerReplica: Forbidden: applies to mode Backlog only`,
		}},
		{"unknown mode lists both", func(z *ZMQTopology) {
			z.Spec.Components[2].Autoscaling = &AutoscalingSpec{Mode: "Magic"}
		}, []string{`spec.components[2].autoscaling.mode: Unsupported value: "Magic": supported values: "External", "Backlog"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := validTopology()
			tc.mutate(z)
			got := z.Validate().ToAggregate()
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

// TestBacklogReplicasNotOwned: under mode Backlog, as under External, the
// operator's apply leaves spec.replicas to the scaler.
func TestBacklogReplicasNotOwned(t *testing.T) {
	c := &Component{Autoscaling: backlog()}
	if !c.ExternalReplicas() {
		t.Error("mode Backlog: the operator's apply would own spec.replicas")
	}
}
