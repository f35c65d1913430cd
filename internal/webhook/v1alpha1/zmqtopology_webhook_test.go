package v1alpha1

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// pipeline is the sample pipeline: ventilator (PUSH bind) <- worker (PULL
// connect, PUSH connect) -> sink (PULL bind).
func pipeline(t *testing.T) *zmqv1.ZMQTopology {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "samples", "zmq_v1alpha1_pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var z zmqv1.ZMQTopology
	if err := yaml.UnmarshalStrict(raw, &z); err != nil {
		t.Fatal(err)
	}
	return &z
}

// dangling breaks the sample: the worker connects to a socket the
// ventilator lacks.
func dangling(z *zmqv1.ZMQTopology) { z.Spec.Components[1].Sockets[0].Connect.Socket = "nope" }

const danglingPath = "spec.components[1].sockets[0].connect.socket"

// fields returns the field paths of a 422 Invalid error's causes, and fails
// the test when err is not one.
func fields(t *testing.T, err error) []string {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want a 422 Invalid error, got %v", err)
	}
	var out []string
	for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
		out = append(out, c.Field)
	}
	return out
}

func TestValidateCreate(t *testing.T) {
	v := ZMQTopologyValidator{}
	if _, err := v.ValidateCreate(context.Background(), pipeline(t)); err != nil {
		t.Fatalf("the sample was refused: %v", err)
	}

	z := pipeline(t)
	dangling(z)
	z.Spec.Components[1].Sockets[1].Type = zmqv1.PUB // PUB -> PULL
	_, err := v.ValidateCreate(context.Background(), z)
	got := fields(t, err)
	want := []string{danglingPath, "spec.components[1].sockets[1].type"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("causes = %v, want every error: %v", got, want)
	}
	if d := err.(apierrors.APIStatus).Status().Details; d.Kind != "ZMQTopology" || d.Group != "zmq.topology.dev" || d.Name != "pipeline" {
		t.Errorf("details name %s.%s %q; want ZMQTopology.zmq.topology.dev \"pipeline\"", d.Kind, d.Group, d.Name)
	}
}

func TestValidateUpdate(t *testing.T) {
	v := ZMQTopologyValidator{}
	valid, invalid := pipeline(t), pipeline(t)
	dangling(invalid)

	for _, tc := range []struct {
		name     string
		old, new func() *zmqv1.ZMQTopology
		refused  bool
	}{
		{"valid to valid", valid.DeepCopy, func() *zmqv1.ZMQTopology {
			z := valid.DeepCopy()
			z.Spec.Paused = true
			return z
		}, false},
		{"valid to invalid", valid.DeepCopy, invalid.DeepCopy, true},
		{"invalid to another invalid spec", invalid.DeepCopy, func() *zmqv1.ZMQTopology {
			z := invalid.DeepCopy()
			z.Spec.Paused = true
			return z
		}, true},
		{"invalid to valid", invalid.DeepCopy, valid.DeepCopy, false},
		{"invalid, metadata and status only", invalid.DeepCopy, func() *zmqv1.ZMQTopology {
			z := invalid.DeepCopy()
			z.Labels = map[string]string{"team": "shop"}
			z.Finalizers = []string{"example.com/hold"}
			z.Status.ObservedGeneration = 4
			return z
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.ValidateUpdate(context.Background(), tc.old(), tc.new())
			if !tc.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if got := fields(t, err); len(got) != 1 || got[0] != danglingPath {
				t.Errorf("causes = %v, want [%s]", got, danglingPath)
			}
		})
	}
}

func TestValidateDelete(t *testing.T) {
	z := pipeline(t)
	dangling(z)
	if _, err := (ZMQTopologyValidator{}).ValidateDelete(context.Background(), z); err != nil {
		t.Fatalf("a delete was refused: %v", err)
	}
}
