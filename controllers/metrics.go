package controllers

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// TopologyCollector exports the state of every topology at scrape time, read
// from the manager's cache, so the numbers can never drift from the objects:
//
//	zmq_operator_topologies{ready="true|false|unknown"}  topologies by Ready status
//	zmq_operator_topology_ready{namespace,topology}     1 when Ready=True, else 0
//	zmq_operator_topology_components{namespace,topology,state="ready|not_ready"}
//
// and the per-link series of metrics_links.go.
type TopologyCollector struct {
	reader     client.Reader
	byReady    *prometheus.Desc
	ready      *prometheus.Desc
	components *prometheus.Desc
	links      linkDescs
}

// NewTopologyCollector returns a collector that lists topologies through
// reader (normally the manager's cache).
func NewTopologyCollector(reader client.Reader) *TopologyCollector {
	return &TopologyCollector{
		reader: reader,
		byReady: prometheus.NewDesc("zmq_operator_topologies",
			"Number of ZMQTopology objects by the status of their Ready condition.", []string{"ready"}, nil),
		ready: prometheus.NewDesc("zmq_operator_topology_ready",
			"Whether a ZMQTopology is Ready (1) or not (0).", []string{"namespace", "topology"}, nil),
		components: prometheus.NewDesc("zmq_operator_topology_components",
			"Components of a ZMQTopology by readiness.", []string{"namespace", "topology", "state"}, nil),
		links: newLinkDescs(),
	}
}

// Describe implements prometheus.Collector.
func (c *TopologyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.byReady
	ch <- c.ready
	ch <- c.components
	c.links.describe(ch)
}

// Collect implements prometheus.Collector.
func (c *TopologyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list zmqv1.ZMQTopologyList
	// Read only: the cache's objects, not a deep copy of every topology
	// per scrape.
	if err := c.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(c.byReady, err)
		return
	}
	counts := map[string]float64{"true": 0, "false": 0, "unknown": 0}
	for i := range list.Items {
		t := &list.Items[i]
		state, value := "unknown", 0.0
		if cond := meta.FindStatusCondition(t.Status.Conditions, zmqv1.ConditionReady); cond != nil {
			switch cond.Status {
			case "True":
				state, value = "true", 1
			case "False":
				state = "false"
			}
		}
		counts[state]++
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, value, t.Namespace, t.Name)
		var ready, notReady float64
		for _, cs := range t.Status.Components {
			if cs.Ready {
				ready++
			} else {
				notReady++
			}
		}
		ch <- prometheus.MustNewConstMetric(c.components, prometheus.GaugeValue, ready, t.Namespace, t.Name, "ready")
		ch <- prometheus.MustNewConstMetric(c.components, prometheus.GaugeValue, notReady, t.Namespace, t.Name, "not_ready")
		c.links.collect(ch, t)
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.byReady, prometheus.GaugeValue, n, state)
	}
}
