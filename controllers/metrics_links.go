package controllers

import (
	"github.com/prometheus/client_golang/prometheus"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// linkDescs are the per-link series of TopologyCollector, read from
// status.links at scrape time, so a deleted topology or link has no series
// left behind:
//
//	zmq_operator_link_up{namespace,topology,link}                        1 when the link is ready, else 0
//	zmq_operator_link_connections{namespace,topology,link,state="expected|up"}
//
// link is "<from> -> <to>", such as "worker/tasks -> ventilator/tasks".
type linkDescs struct {
	up, connections *prometheus.Desc
}

func newLinkDescs() linkDescs {
	return linkDescs{
		up: prometheus.NewDesc("zmq_operator_link_up",
			"Whether a link of a ZMQTopology is ready (1): both components ready and, once the sidecars have been polled, every expected connection up; else 0.",
			[]string{"namespace", "topology", "link"}, nil),
		connections: prometheus.NewDesc("zmq_operator_link_connections",
			"Connections of a link: expected (connecting replicas x endpoints each) and up (as the sidecars last probed them); absent before the first poll.",
			[]string{"namespace", "topology", "link", "state"}, nil),
	}
}

// LinkName is the link label of the link metrics.
func LinkName(l zmqv1.LinkStatus) string { return l.From + " -> " + l.To }

func (d linkDescs) describe(ch chan<- *prometheus.Desc) {
	ch <- d.up
	ch <- d.connections
}

func (d linkDescs) collect(ch chan<- prometheus.Metric, t *zmqv1.ZMQTopology) {
	for _, l := range t.Status.Links {
		name := LinkName(l)
		up := 0.0
		if l.Ready {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, up, t.Namespace, t.Name, name)
		if l.ExpectedConnections > 0 {
			ch <- prometheus.MustNewConstMetric(d.connections, prometheus.GaugeValue, float64(l.ExpectedConnections), t.Namespace, t.Name, name, "expected")
			ch <- prometheus.MustNewConstMetric(d.connections, prometheus.GaugeValue, float64(l.ConnectionsUp), t.Namespace, t.Name, name, "up")
		}
	}
}
