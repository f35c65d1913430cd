package controllers

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// requestLog records every request sent through a transport, reads too.
type requestLog struct {
	mu   sync.Mutex
	reqs []loggedRequest
}

// loggedRequest is one request: when, its method, URL path and whether it
// was a dry run.
type loggedRequest struct {
	at     time.Time
	method string
	path   string
	dryRun bool
}

func (r loggedRequest) String() string {
	if r.dryRun {
		return r.method + " " + r.path + " (dry run)"
	}
	return r.method + " " + r.path
}

func (l *requestLog) record(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.reqs = append(l.reqs, loggedRequest{at: time.Now(), method: req.Method, path: req.URL.Path, dryRun: req.URL.Query().Has("dryRun")})
		l.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

// under lists the requests to URL paths under any of the prefixes since a
// time.
func (l *requestLog) under(since time.Time, prefixes ...string) []loggedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedRequest
	for _, r := range l.reqs {
		if r.at.Before(since) {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(r.path, p) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// TestFirstReconcileRequestBudget checks what the manager sends to the API
// server while it creates a topology's children, so that a request added
// per child fails here rather than in the scale benchmark: per child one
// apply, plus one dry-run apply per workload (dryRunPlan: while a topology
// is being created only what starts pods is dry-run), and nothing else (no
// GET: the caches answer every read, the cache of unlabelled objects
// included); the topology's status patched a few times at most; one event,
// which names every child created; nothing else in the namespace.
func TestFirstReconcileRequestBudget(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	z := loadSample(t, "zmq_v1alpha1_pipeline.yaml", ns)
	desired, err := render.Render(z, renderOpts)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	g.Expect(len(desired)).To(gomega.BeNumerically(">", 1), "several children: the apply is dry-run first")
	childPaths := map[string]string{}
	for _, obj := range desired {
		childPaths[childPath(ns, obj)] = string(obj.Kind) + " " + obj.Name
	}

	start := time.Now()
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	key := client.ObjectKeyFromObject(z)
	eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "")
	// The manager settles: no request in the namespace for a while.
	prefixes := []string{"/api/v1/namespaces/" + ns + "/", "/apis/apps/v1/namespaces/" + ns + "/",
		"/apis/policy/v1/namespaces/" + ns + "/", "/apis/networking.k8s.io/v1/namespaces/" + ns + "/", "/apis/" + zmqv1.GroupVersion.Group + "/", "/apis/events.k8s.io/v1/namespaces/" + ns + "/"}
	g.Eventually(func() int {
		before := len(managerRequests.under(start, prefixes...))
		time.Sleep(time.Second)
		return len(managerRequests.under(start, prefixes...)) - before
	}).Should(gomega.BeZero())

	var (
		dryRuns, applies = map[string]int{}, map[string]int{}
		statusPatches    int
		eventWrites      int
		other            []string
	)
	topologyPath := fmt.Sprintf("/apis/%s/namespaces/%s/zmqtopologies/%s", zmqv1.GroupVersion, ns, z.Name)
	for _, r := range managerRequests.under(start, prefixes...) {
		_, child := childPaths[r.path]
		switch {
		case child && r.method == http.MethodPatch && r.dryRun:
			dryRuns[r.path]++
		case child && r.method == http.MethodPatch:
			applies[r.path]++
		case r.path == topologyPath+"/status" && r.method == http.MethodPatch:
			statusPatches++
		case strings.HasPrefix(r.path, "/apis/events.k8s.io/") && r.method != http.MethodGet:
			eventWrites++
		case strings.HasPrefix(r.path, "/apis/"+zmqv1.GroupVersion.Group+"/") && !strings.Contains(r.path, "/namespaces/"+ns+"/"):
			// Cluster-wide list and watch of topologies.
		default:
			other = append(other, r.String())
		}
	}
	g.Expect(other).To(gomega.BeEmpty(), "requests outside the budget (a GET is a read the caches should answer)")
	workloads := 0
	for _, obj := range desired {
		p := childPath(ns, obj)
		want := 0
		if obj.Kind.IsWorkload() {
			want = 1
			workloads++
		}
		g.Expect(dryRuns[p]).To(gomega.Equal(want), "dry-run applies of %s %s", obj.Kind, obj.Name)
		g.Expect(applies[p]).To(gomega.Equal(1), "applies of %s %s", obj.Kind, obj.Name)
	}
	g.Expect(workloads).To(gomega.Equal(len(z.Spec.Components)))
	g.Expect(statusPatches).To(gomega.BeNumerically(">=", 1))
	g.Expect(statusPatches).To(gomega.BeNumerically("<=", 2), "status patches")
	g.Expect(eventWrites).To(gomega.Equal(1), "event writes")

	// That one event names every child created.
	var events eventsv1.EventList
	g.Expect(k8sClient.List(ctx, &events, client.InNamespace(ns))).To(gomega.Succeed())
	// Only the topology's: the API server's own repair loop may report on
	// a Service meanwhile ("ClusterIPNotAllocated").
	var ours []eventsv1.Event
	for _, e := range events.Items {
		if e.Regarding.Kind == "ZMQTopology" {
			ours = append(ours, e)
		}
	}
	g.Expect(ours).To(gomega.HaveLen(1))
	for _, obj := range desired {
		g.Expect(ours[0].Note).To(gomega.ContainSubstring(string(obj.Kind) + " " + obj.Name))
	}
	g.Expect(ours[0].Reason).To(gomega.Equal("Created"))
}

// childPath is the URL path of a child object.
func childPath(ns string, obj render.Object) string {
	switch obj.Kind {
	case render.KindConfigMap:
		return "/api/v1/namespaces/" + ns + "/configmaps/" + obj.Name
	case render.KindService:
		return "/api/v1/namespaces/" + ns + "/services/" + obj.Name
	case render.KindDeployment:
		return "/apis/apps/v1/namespaces/" + ns + "/deployments/" + obj.Name
	case render.KindStatefulSet:
		return "/apis/apps/v1/namespaces/" + ns + "/statefulsets/" + obj.Name
	case render.KindPodDisruptionBudget:
		return "/apis/policy/v1/namespaces/" + ns + "/poddisruptionbudgets/" + obj.Name
	case render.KindNetworkPolicy:
		return "/apis/networking.k8s.io/v1/namespaces/" + ns + "/networkpolicies/" + obj.Name
	}
	panic("childPath: no path for kind " + string(obj.Kind))
}
