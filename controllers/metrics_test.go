package controllers

import (
	"testing"

	"github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// TestTopologyCollector scrapes the collector over a real API server while a
// topology goes from not ready to ready.
func TestTopologyCollector(t *testing.T) {
	ctx, g := envtestOnly(t)
	ns := newNamespace(ctx, t)
	reg := prometheus.NewPedanticRegistry()
	g.Expect(reg.Register(NewTopologyCollector(k8sClient))).To(gomega.Succeed())

	// value returns the gauge with the given name and labels (-1 if absent).
	value := func(name string, labels map[string]string) float64 {
		families, err := reg.Gather()
		g.Expect(err).NotTo(gomega.HaveOccurred())
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				if labelsMatch(m, labels) {
					return m.GetGauge().GetValue()
				}
			}
		}
		return -1
	}

	z := loadSample(t, "zmq_v1alpha1_reqrep.yaml", ns)
	g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())
	key := client.ObjectKeyFromObject(z)
	eventuallyReady(ctx, g, key, metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "")
	g.Expect(value("zmq_operator_topology_ready", map[string]string{"namespace": ns, "topology": "reqrep"})).To(gomega.Equal(0.0))
	g.Expect(value("zmq_operator_topology_components", map[string]string{"namespace": ns, "topology": "reqrep", "state": "not_ready"})).To(gomega.Equal(3.0))
	g.Expect(value("zmq_operator_topologies", map[string]string{"ready": "false"})).To(gomega.BeNumerically(">=", 1))

	markAllReady(ctx, g, z)
	eventuallyReady(ctx, g, key, metav1.ConditionTrue, zmqv1.ReasonReady, "")
	g.Expect(value("zmq_operator_topology_ready", map[string]string{"namespace": ns, "topology": "reqrep"})).To(gomega.Equal(1.0))
	g.Expect(value("zmq_operator_topology_components", map[string]string{"namespace": ns, "topology": "reqrep", "state": "ready"})).To(gomega.Equal(3.0))
	g.Expect(value("zmq_operator_topologies", map[string]string{"ready": "true"})).To(gomega.BeNumerically(">=", 1))
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}
