package linkpoll

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// CachedPods follows the topology pods of the manager's cache (restricted
// to labelled pods by controllers.CacheOptions) through its pod informer's
// events, and lists pointers to the cached objects, which are shared and
// only read. Listing through the cache's reader instead would copy every
// pod (over 1 KiB each) out of it on every tick: some 18 MiB a second at
// 15,000 pods.
//
// The informer is registered now and started with the cache; until the
// informer has handed over its initial list, a listing waits for it (or
// for ctx).
func CachedPods(ctx context.Context, informers cache.Informers) (PodSource, error) {
	inf, err := informers.GetInformer(ctx, &corev1.Pod{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("getting the pod informer: %w", err)
	}
	s := &podSet{pods: map[types.NamespacedName]*corev1.Pod{}}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.put,
		UpdateFunc: func(_, obj any) { s.put(obj) },
		DeleteFunc: s.remove,
	})
	if err != nil {
		return nil, fmt.Errorf("following pods: %w", err)
	}
	return func(ctx context.Context) ([]*corev1.Pod, error) {
		if !toolscache.WaitForCacheSync(ctx.Done(), reg.HasSynced) {
			return nil, fmt.Errorf("waiting for the pod cache: %w", context.Cause(ctx))
		}
		return s.list(), nil
	}, nil
}

// podSet is the set of topology pods an informer reported last.
type podSet struct {
	mu   sync.Mutex
	pods map[types.NamespacedName]*corev1.Pod
}

func (s *podSet) put(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, labelled := pod.Labels[render.LabelTopology]; !labelled {
		delete(s.pods, key)
		return
	}
	s.pods[key] = pod
}

func (s *podSet) remove(obj any) {
	var key types.NamespacedName
	switch o := obj.(type) {
	case *corev1.Pod:
		key = types.NamespacedName{Namespace: o.Namespace, Name: o.Name}
	case toolscache.DeletedFinalStateUnknown:
		// A deletion the informer missed: its key names the pod.
		ns, name, err := toolscache.SplitMetaNamespaceKey(o.Key)
		if err != nil {
			return
		}
		key = types.NamespacedName{Namespace: ns, Name: name}
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pods, key)
}

func (s *podSet) list() []*corev1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(s.pods))
	for _, pod := range s.pods {
		out = append(out, pod)
	}
	return out
}
