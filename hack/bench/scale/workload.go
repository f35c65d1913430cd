package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// replicasPerComponent is the pod count of each of a pipeline's three
// components.
const replicasPerComponent = 5

// pipeline is the benchmark's topology: a PUSH/PULL pipeline of three
// components (ventilator, worker, sink) of five pods each, the shape of
// config/samples/zmq_v1alpha1_pipeline.yaml.
func pipeline(ns string, i int) *zmqv1.ZMQTopology {
	app := func(arg string) *corev1.PodTemplateSpec {
		return &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "zmq-operator-examples:bench", Args: []string{arg},
		}}}}
	}
	return &zmqv1.ZMQTopology{
		TypeMeta:   metav1.TypeMeta{APIVersion: zmqv1.GroupVersion.String(), Kind: "ZMQTopology"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%04d", i), Namespace: ns},
		Spec: zmqv1.ZMQTopologySpec{Components: []zmqv1.Component{
			{Name: "ventilator", Replicas: ptr.To[int32](replicasPerComponent), Template: app("ventilator"),
				Sockets: []zmqv1.Socket{{Name: "tasks", Type: zmqv1.PUSH, Bind: &zmqv1.BindSpec{Port: 5557}}}},
			{Name: "worker", Replicas: ptr.To[int32](replicasPerComponent), Template: app("worker"),
				Sockets: []zmqv1.Socket{
					{Name: "tasks", Type: zmqv1.PULL, Connect: &zmqv1.ConnectSpec{Component: "ventilator", Socket: "tasks"}},
					{Name: "results", Type: zmqv1.PUSH, Connect: &zmqv1.ConnectSpec{Component: "sink", Socket: "results"}},
				}},
			{Name: "sink", Replicas: ptr.To[int32](replicasPerComponent), Template: app("sink"),
				Sockets: []zmqv1.Socket{{Name: "results", Type: zmqv1.PULL, Bind: &zmqv1.BindSpec{Port: 5558}}}},
		}},
	}
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = zmqv1.AddToScheme(s)
	return s
}

// clientAt is a client limited to qps requests per second (burst 2x).
func clientAt(cfg *rest.Config, qps int) (client.Client, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = float32(qps), 2*qps
	return client.New(c, client.Options{Scheme: newScheme()})
}

func createNamespace(ctx context.Context, c client.Client, name string) error {
	return c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// floorObjects renders the children of n pipelines in namespace ns with the
// operator's own render package: exactly what the operator would apply.
func floorObjects(ns string, n int, opts render.Options) ([][]render.Object, error) {
	out := make([][]render.Object, n)
	for i := range out {
		t := pipeline(ns, i)
		// The owner does not exist: no garbage collector runs in the
		// benchmark's cluster, and the reference keeps the objects
		// identical in size to the operator's.
		t.UID = types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
		objs, err := render.Render(t, opts)
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %w", t.Name, err)
		}
		out[i] = objs
	}
	return out, nil
}

// applyAll applies each group's objects in order with server-side apply,
// workers groups at a time.
func applyAll(ctx context.Context, c client.Client, groups [][]render.Object, workers int) error {
	work := make(chan []render.Object)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				for _, obj := range g {
					if err := c.Apply(ctx, obj.Apply, client.FieldOwner("bench-floor"), client.ForceOwnership); err != nil {
						errs <- fmt.Errorf("applying %s %s: %w", obj.Kind, obj.Name, err)
						return
					}
				}
			}
		}()
	}
	var err error
feed:
	for _, g := range groups {
		select {
		case work <- g:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// createAll creates the topologies, workers at a time.
func createAll(ctx context.Context, c client.Client, ts []*zmqv1.ZMQTopology, workers int) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	work := make(chan client.Object)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := c.Create(ctx, o); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("creating %s: %w", o.GetName(), err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, t := range ts {
		work <- t
	}
	close(work)
	wg.Wait()
	return first
}

// watcher keeps a cache of the benchmark's namespaces and counts what is
// ready.
type watcher struct {
	cache    cache.Cache
	stop     context.CancelFunc
	timeline *timeline
}

func startWatcher(ctx context.Context, cfg *rest.Config, namespaces ...string) (*watcher, error) {
	opts := cache.Options{Scheme: newScheme(), DefaultNamespaces: map[string]cache.Config{}}
	for _, ns := range namespaces {
		opts.DefaultNamespaces[ns] = cache.Config{}
	}
	c, err := cache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{cache: c, stop: cancel, timeline: newTimeline()}
	record := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.timeline.observe(obj, time.Now()) },
		UpdateFunc: func(_, obj any) { w.timeline.observe(obj, time.Now()) },
	}
	for _, obj := range []client.Object{&zmqv1.ZMQTopology{}, &appsv1.Deployment{}, &appsv1.StatefulSet{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err == nil {
			_, err = inf.AddEventHandler(record)
		}
		if err != nil {
			cancel()
			return nil, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		cancel()
		return nil, fmt.Errorf("watch caches did not sync")
	}
	return w, nil
}

// readyTopologies counts topologies in ns whose Ready condition is True.
func (w *watcher) readyTopologies(ctx context.Context, ns string) (int, error) {
	var l zmqv1.ZMQTopologyList
	if err := w.cache.List(ctx, &l, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	n := 0
	for i := range l.Items {
		if meta.IsStatusConditionTrue(l.Items[i].Status.Conditions, zmqv1.ConditionReady) {
			n++
		}
	}
	return n, nil
}

// readyWorkloads counts Deployments and StatefulSets in ns that are rolled
// out with every replica ready.
func (w *watcher) readyWorkloads(ctx context.Context, ns string) (int, error) {
	var ds appsv1.DeploymentList
	if err := w.cache.List(ctx, &ds, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	var ss appsv1.StatefulSetList
	if err := w.cache.List(ctx, &ss, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	n := 0
	for i := range ds.Items {
		if deploymentReady(&ds.Items[i]) {
			n++
		}
	}
	for i := range ss.Items {
		if statefulSetReady(&ss.Items[i]) {
			n++
		}
	}
	return n, nil
}

// waitFor polls count every second until it reaches want or timeout
// passes, and returns the time from start. Every 10 s it prints progress,
// with what more says then: more is called only to print, so that what it
// reads (the manager's metrics) is read as often as a Prometheus server
// would scrape it, not every second: a scrape costs the manager CPU.
func waitFor(ctx context.Context, label string, start time.Time, want int, timeout time.Duration, count func() (int, error), more func() string) (time.Duration, error) {
	lastPrint := time.Now()
	var last int
	err := poll(ctx, timeout, func() (bool, error) {
		n, err := count()
		if err != nil {
			return false, err
		}
		last = n
		if n >= want {
			return true, nil
		}
		if time.Since(lastPrint) >= 10*time.Second {
			lastPrint = time.Now()
			fmt.Printf("  %s %4.0fs: %d/%d ready %s\n", label, time.Since(start).Seconds(), n, want, more())
		}
		return false, nil
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %d/%d ready after %s: %w", label, last, want, time.Since(start).Round(time.Second), err)
	}
	return time.Since(start), nil
}

// diagnose describes the pods of a namespace, for a wait that timed out.
func diagnose(ctx context.Context, c client.Client, ns string) string {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	phases := map[corev1.PodPhase]int{}
	unscheduled := 0
	for _, p := range pods.Items {
		phases[p.Status.Phase]++
		if p.Spec.NodeName == "" {
			unscheduled++
		}
	}
	s := fmt.Sprintf("%d pods in %s, %d unscheduled, by phase %v", len(pods.Items), ns, unscheduled, phases)
	if len(pods.Items) > 0 {
		p := pods.Items[0]
		s += fmt.Sprintf("; pod %s: node %q, conditions %+v", p.Name, p.Spec.NodeName, p.Status.Conditions)
	}
	return s
}
