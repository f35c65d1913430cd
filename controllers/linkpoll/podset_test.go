package linkpoll

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

func TestPodSetFollowsTheInformer(t *testing.T) {
	s := &podSet{pods: map[types.NamespacedName]*corev1.Pod{}}
	pod := func(name, rv string, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: rv, Labels: labels}}
	}
	labelled := map[string]string{render.LabelTopology: "t"}
	names := func() map[string]string {
		out := map[string]string{}
		for _, p := range s.list() {
			out[p.Name] = p.ResourceVersion
		}
		return out
	}

	s.put(pod("a", "1", labelled))
	s.put(pod("b", "1", labelled))
	s.put(pod("c", "1", nil))  // not a topology pod
	s.put(&corev1.ConfigMap{}) // not a pod
	if got := names(); len(got) != 2 || got["a"] != "1" || got["b"] != "1" {
		t.Fatalf("after adds: %v", got)
	}
	s.put(pod("a", "2", labelled))
	s.put(pod("b", "2", nil)) // its label removed
	if got := names(); len(got) != 1 || got["a"] != "2" {
		t.Fatalf("after updates: %v", got)
	}
	s.remove(toolscache.DeletedFinalStateUnknown{Key: "ns/a"}) // the key is enough
	if got := names(); len(got) != 0 {
		t.Fatalf("after a missed deletion: %v", got)
	}
	s.put(pod("d", "1", labelled))
	s.remove(pod("d", "1", labelled))
	if got := names(); len(got) != 0 {
		t.Fatalf("after a deletion: %v", got)
	}
}
