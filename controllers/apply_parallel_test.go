package controllers

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

func TestByStageWritesWorkloadsLast(t *testing.T) {
	ch := func(k render.Kind, name string) change { return change{obj: render.Object{Kind: k, Name: name}} }
	in := []change{
		ch(render.KindNetworkPolicy, "n"),
		ch(render.KindConfigMap, "a"), ch(render.KindConfigMap, "b"),
		ch(render.KindService, "c"), ch(render.KindPodDisruptionBudget, "p"),
		ch(render.KindDeployment, "d"), ch(render.KindDeployment, "e"), ch(render.KindStatefulSet, "s"),
	}
	names := func(groups [][]change) [][]string {
		var got [][]string
		for _, g := range groups {
			var names []string
			for _, c := range g {
				names = append(names, c.obj.Name)
			}
			got = append(got, names)
		}
		return got
	}
	if got, want := names(byStage(in)), [][]string{{"n", "a", "b", "c", "p"}, {"d", "e", "s"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("byStage = %v, want %v", got, want)
	}
	if got, want := names(byStage(in[5:])), [][]string{{"d", "e", "s"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("byStage(workloads only) = %v, want %v", got, want)
	}
	if got, want := names(byStage(in[:2])), [][]string{{"n", "a"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("byStage(no workload) = %v, want %v", got, want)
	}
	if g := byStage(nil); len(g) != 0 {
		t.Errorf("byStage(nil) = %v", g)
	}
}

func TestInParallel(t *testing.T) {
	foreign := errors.New("foreign")
	changes := []change{{}, {err: foreign}, {}, {}}
	var running, peak, calls atomic.Int32
	errs := inParallel(context.Background(), changes, func(_ context.Context, i int, _ change) error {
		calls.Add(1)
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		running.Add(-1)
		if i == 3 {
			return errors.New("three")
		}
		return nil
	})
	if calls.Load() != 3 {
		t.Errorf("f called %d times, want 3 (not for the change that has its error)", calls.Load())
	}
	if peak.Load() < 2 {
		t.Errorf("at most %d calls ran at once, want them at once", peak.Load())
	}
	if errs[0] != nil || errs[1] != foreign || errs[2] != nil || errs[3] == nil || errs[3].Error() != "three" {
		t.Errorf("errors %v, in the wrong order", errs)
	}
}
