package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmqsocket"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// defaultFollowInterval is the default of --config-poll-interval: how often
// the agent and the devices re-read the mounted configuration to follow
// endpoint changes (endpointUpdates: Live).
const defaultFollowInterval = zmqsocket.DefaultFollowInterval

// startFollower follows the configuration file at path, from cfg (what the
// process started with), until ctx ends: the connecting sockets among
// sockets (by name) connect and disconnect as their endpoints change.
func startFollower(ctx context.Context, path string, cfg *zmqconfig.Config, interval time.Duration, log *slog.Logger, sockets map[string]*zmtp.Socket) *zmqsocket.Follower {
	f := zmqsocket.NewFollower(path, cfg, interval, log)
	for name, s := range sockets {
		if cs := cfg.Socket(name); cs != nil && !cs.Bind {
			f.Follow(name, s)
		}
	}
	go f.Run(ctx)
	return f
}

// followCollector exports a Follower's counters as
// <prefix>_config_reloads_total, <prefix>_config_errors_total and
// <prefix>_config_endpoint_changes_total{change="connected|disconnected"}.
type followCollector struct {
	f                       *zmqsocket.Follower
	reloads, errors, change *prometheus.Desc
}

func newFollowCollector(prefix string, f *zmqsocket.Follower) *followCollector {
	return &followCollector{
		f: f,
		reloads: prometheus.NewDesc(prefix+"_config_reloads_total",
			"New versions of the mounted socket configuration applied (endpointUpdates: Live).", nil, nil),
		errors: prometheus.NewDesc(prefix+"_config_errors_total",
			"Versions of the mounted socket configuration ignored because they could not be read or parsed, or did not fit the open sockets.", nil, nil),
		change: prometheus.NewDesc(prefix+"_config_endpoint_changes_total",
			"Endpoints connected or disconnected on open sockets to follow the mounted configuration.", []string{"change"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *followCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reloads
	ch <- c.errors
	ch <- c.change
}

// Collect implements prometheus.Collector.
func (c *followCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.f.Stats()
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(st.Reloads))
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(st.Errors))
	ch <- prometheus.MustNewConstMetric(c.change, prometheus.CounterValue, float64(st.Connects), "connected")
	ch <- prometheus.MustNewConstMetric(c.change, prometheus.CounterValue, float64(st.Disconnects), "disconnected")
}
