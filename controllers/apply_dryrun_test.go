package controllers

import (
	"errors"
	"fmt"
	"testing"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

func TestDryRunPlan(t *testing.T) {
	obj := func(k render.Kind, name string) render.Object { return render.Object{Kind: k, Name: name} }
	desired := []render.Object{
		obj(render.KindNetworkPolicy, "p-ventilator"), obj(render.KindConfigMap, "p-ventilator-zmq"),
		obj(render.KindService, "p-ventilator"), obj(render.KindDeployment, "p-ventilator"), obj(render.KindDeployment, "p-worker"),
	}
	changeOf := func(op string, o render.Object) change { return change{obj: o, op: op} }
	all := func(op string) []change {
		var out []change
		for _, o := range desired {
			out = append(out, changeOf(op, o))
		}
		return out
	}
	foreign := all(opCreated)
	foreign[2].op, foreign[2].err = opUpdated, errors.New("taken")
	for _, tc := range []struct {
		name    string
		changes []change
		want    string
	}{
		{"one change: none", []change{changeOf(opUpdated, desired[3])}, "[false]"},
		{"creating the topology: the workloads only", all(opCreated), "[false false false true true]"},
		{"a deleted ConfigMap and Service come back: both (the workloads run)",
			[]change{changeOf(opCreated, desired[1]), changeOf(opCreated, desired[2])}, "[true true]"},
		{"creating all but one workload, which exists: all",
			[]change{changeOf(opCreated, desired[0]), changeOf(opCreated, desired[1]), changeOf(opCreated, desired[2]), changeOf(opCreated, desired[3])},
			"[true true true true]"},
		{"updates: all", all(opUpdated), "[true true true true true]"},
		{"a name taken by someone else: all", foreign, "[true true true true true]"},
	} {
		if got := fmt.Sprint(dryRunPlan(tc.changes, desired)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
