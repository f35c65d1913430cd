package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/autoscale"
	"github.com/zmq-operator/zmq-operator/controllers/linkpoll"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// This file is the built-in backlog autoscaler (autoscaling.mode Backlog,
// issue 12 item 2b): a leader-only runnable that, once per period, measures
// the backlog of every such component from the link poller's queue
// snapshots (autoscale.Measure), asks the component's recommender for a
// count (autoscale.Recommender) and writes it to the Deployment's scale
// subresource when it differs from spec.replicas. It writes nothing while
// the count does not change. The reconciler does not own spec.replicas of
// these components (render.OwnsReplicas), so it never undoes the scaler's
// count.

// AutoscalerFieldManager is the field manager of the autoscaler's writes
// to a workload's scale subresource; it then owns spec.replicas.
const AutoscalerFieldManager = render.ManagedBy + "-autoscaler"

// ReasonScaled is the reason of the Event the autoscaler records on the
// topology when it changes a component's replicas.
const ReasonScaled = "Scaled"

// QueueSource is what the autoscaler reads the backlog from:
// *linkpoll.Poller.
type QueueSource interface {
	Queues(topology types.NamespacedName) []linkpoll.PodQueues
}

// +kubebuilder:rbac:groups=apps,resources=deployments/scale,verbs=get;update

// BacklogAutoscaler scales the components with autoscaling.mode Backlog.
type BacklogAutoscaler struct {
	// Client reads topologies and Deployments (from the cache) and writes
	// the scale subresource.
	Client client.Client
	// Queues is the link poller.
	Queues QueueSource
	// Recorder records a Scaled event per change; nil records none.
	Recorder events.EventRecorder
	// Period between two decisions; the policies' rate limits are per
	// period. Should be at least the link poll period, so that each
	// decision sees new samples.
	Period time.Duration
	// Registerer receives the autoscaler's metrics; nil registers none.
	Registerer prometheus.Registerer

	metrics     autoscalerMetrics
	recommender map[componentKey]*autoscale.Recommender
}

// componentKey names one component of one topology.
type componentKey struct {
	types.NamespacedName
	component string
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (a *BacklogAutoscaler) NeedLeaderElection() bool { return true }

// Start implements manager.Runnable: one pass per period until ctx ends.
func (a *BacklogAutoscaler) Start(ctx context.Context) error {
	if a.Period <= 0 {
		return fmt.Errorf("backlog autoscaler: period %s must be positive", a.Period)
	}
	a.metrics = newAutoscalerMetrics()
	if a.Registerer != nil {
		if err := a.metrics.register(a.Registerer); err != nil {
			return fmt.Errorf("registering autoscaler metrics: %w", err)
		}
	}
	a.recommender = map[componentKey]*autoscale.Recommender{}
	log := logf.FromContext(ctx).WithName("autoscaler")
	log.Info("scaling components on backlog", "period", a.Period)
	ticker := time.NewTicker(a.Period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		// A pass that outlives the period delays the next one (the ticker
		// drops ticks); 5 s covers a cold cache.
		pctx, cancel := context.WithTimeout(ctx, max(a.Period, 5*time.Second))
		if err := a.pass(pctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Error(err, "autoscaling pass")
		}
		cancel()
	}
}

// pass decides once for every Backlog component, and forgets components
// that are gone or no longer scaled on backlog.
func (a *BacklogAutoscaler) pass(ctx context.Context, now time.Time) error {
	var list zmqv1.ZMQTopologyList
	if err := a.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing topologies: %w", err)
	}
	seen := map[componentKey]bool{}
	var errs []error
	for i := range list.Items {
		t := &list.Items[i]
		if !t.DeletionTimestamp.IsZero() || len(t.Validate()) > 0 {
			continue // a refused spec changes nothing running
		}
		for j := range t.Spec.Components {
			c := &t.Spec.Components[j]
			policy, ok := autoscale.PolicyFor(c)
			if !ok {
				continue
			}
			key := componentKey{types.NamespacedName{Namespace: t.Namespace, Name: t.Name}, c.Name}
			seen[key] = true
			rec := a.recommender[key]
			if rec == nil {
				rec = autoscale.NewRecommender(policy)
				a.recommender[key] = rec
			} else {
				rec.SetPolicy(policy)
			}
			if err := a.scale(ctx, t, c, rec, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for key := range a.recommender {
		if !seen[key] {
			delete(a.recommender, key)
			a.metrics.forget(key)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d components: %w (first)", len(errs), errs[0])
	}
	return nil
}

// scale decides one component's count and writes it when it changes.
func (a *BacklogAutoscaler) scale(ctx context.Context, t *zmqv1.ZMQTopology, c *zmqv1.Component, rec *autoscale.Recommender, now time.Time) error {
	var d appsv1.Deployment
	if err := a.Client.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: render.ObjectName(t, c)}, &d); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // not created yet
		}
		return fmt.Errorf("reading the Deployment of %s/%s: %w", t.Name, c.Name, err)
	}
	if !metav1.IsControlledBy(&d, t) || d.Spec.Replicas == nil {
		return nil
	}
	current := *d.Spec.Replicas
	m := autoscale.Measure(t, c.Name, a.Queues.Queues(types.NamespacedName{Namespace: t.Namespace, Name: t.Name}), now)
	decision := rec.Next(m.Sample(), current)
	key := componentKey{types.NamespacedName{Namespace: t.Namespace, Name: t.Name}, c.Name}
	a.metrics.observe(key, m, decision)
	if decision.Replicas == current {
		return nil
	}
	scale := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, ResourceVersion: d.ResourceVersion},
		Spec:       autoscalingv1.ScaleSpec{Replicas: decision.Replicas},
	}
	if err := a.Client.SubResource("scale").Update(ctx, &d, client.WithSubResourceBody(scale), client.FieldOwner(AutoscalerFieldManager)); err != nil {
		return fmt.Errorf("scaling %s/%s from %d to %d: %w", t.Name, c.Name, current, decision.Replicas, err)
	}
	a.metrics.scaled(key, decision.Replicas > current)
	logf.FromContext(ctx).Info("scaled on backlog", "namespace", t.Namespace, "topology", t.Name, "component", c.Name,
		"from", current, "to", decision.Replicas, "backlogBytes", m.Backlog(), "complete", m.Complete, "reason", decision.Reason)
	if a.Recorder != nil {
		a.Recorder.Eventf(t, &d, corev1.EventTypeNormal, ReasonScaled, "Scale",
			"scaled %s from %d to %d replicas: backlog %d bytes, target %s per replica (%s)",
			c.Name, current, decision.Replicas, m.Backlog(), targetString(rec.Policy().TargetPerReplica), decision.Reason)
	}
	return nil
}

func targetString(bytes float64) string { return fmt.Sprintf("%.0f bytes", bytes) }

// autoscalerMetrics are the autoscaler's series, per component:
//
//	zmq_operator_autoscale_backlog_bytes{namespace,topology,component,part="workers|upstream"}
//	zmq_operator_autoscale_desired_replicas{namespace,topology,component}
//	zmq_operator_autoscale_scale_total{namespace,topology,component,direction="up|down"}
type autoscalerMetrics struct {
	backlog *prometheus.GaugeVec
	desired *prometheus.GaugeVec
	scales  *prometheus.CounterVec
}

func newAutoscalerMetrics() autoscalerMetrics {
	labels := []string{"namespace", "topology", "component"}
	return autoscalerMetrics{
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zmq_operator_autoscale_backlog_bytes",
			Help: "Backlog of a component scaled on backlog, at the last decision: bytes in its pods' receive queues (part=workers) and in its upstream binders' send queues (part=upstream)."},
			append(labels, "part")),
		desired: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zmq_operator_autoscale_desired_replicas",
			Help: "Replica count the backlog autoscaler decided at its last pass."}, labels),
		scales: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zmq_operator_autoscale_scale_total",
			Help: "Changes of replicas the backlog autoscaler wrote."}, append(labels, "direction")),
	}
}

func (m autoscalerMetrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.backlog, m.desired, m.scales} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m autoscalerMetrics) observe(k componentKey, ms autoscale.Measurement, d autoscale.Decision) {
	m.backlog.WithLabelValues(k.Namespace, k.Name, k.component, "workers").Set(float64(ms.Workers))
	m.backlog.WithLabelValues(k.Namespace, k.Name, k.component, "upstream").Set(float64(ms.Upstream))
	m.desired.WithLabelValues(k.Namespace, k.Name, k.component).Set(float64(d.Replicas))
}

func (m autoscalerMetrics) scaled(k componentKey, up bool) {
	dir := "down"
	if up {
		dir = "up"
	}
	m.scales.WithLabelValues(k.Namespace, k.Name, k.component, dir).Inc()
}

func (m autoscalerMetrics) forget(k componentKey) {
	match := prometheus.Labels{"namespace": k.Namespace, "topology": k.Name, "component": k.component}
	m.backlog.DeletePartialMatch(match)
	m.desired.DeletePartialMatch(match)
	m.scales.DeletePartialMatch(match)
}
