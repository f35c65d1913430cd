package linkpoll

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Poll results, the values of the result label of
// zmq_operator_link_polls_total.
const (
	// ResultOK: the sidecar answered with a document this operator reads.
	ResultOK = "ok"
	// ResultError: no answer (connection refused, timeout, HTTP error).
	ResultError = "error"
	// ResultInvalid: an answer that is not a document of a known
	// APIVersion.
	ResultInvalid = "invalid"
)

// pollMetrics are the poller's own metrics:
//
//	zmq_operator_link_polls_total{result="ok|error|invalid"}  polls of sidecars' /status
//	zmq_operator_link_poll_duration_seconds                    histogram of one poll's duration
//	zmq_operator_link_poll_pods                                pods being polled
type pollMetrics struct {
	polls    *prometheus.CounterVec
	duration prometheus.Histogram
	pods     prometheus.Gauge
}

func newPollMetrics() *pollMetrics {
	return &pollMetrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zmq_operator_link_polls_total",
			Help: "Polls of the sidecars' /status by the operator, by result (ok, error, invalid).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "zmq_operator_link_poll_duration_seconds",
			Help:    "Duration of one poll of a sidecar's /status, from the request to the decoded document.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		pods: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zmq_operator_link_poll_pods",
			Help: "Running pods of topologies whose sidecars the operator polls.",
		}),
	}
}

func (m *pollMetrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.polls, m.duration, m.pods} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
