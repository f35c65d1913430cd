package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// deviceCollector exports the message-level counters of a device's two
// sockets, read from pkg/zmtp at scrape time. The side label is "frontend"
// or "backend".
type deviceCollector struct {
	sides map[string]*zmtp.Socket
}

var (
	descDevMsgsIn   = prometheus.NewDesc("zmq_device_received_messages_total", "Messages the device received on one side.", []string{"side"}, nil)
	descDevMsgsOut  = prometheus.NewDesc("zmq_device_sent_messages_total", "Messages the device sent on one side.", []string{"side"}, nil)
	descDevBytesIn  = prometheus.NewDesc("zmq_device_received_bytes_total", "Message bytes the device received on one side.", []string{"side"}, nil)
	descDevBytesOut = prometheus.NewDesc("zmq_device_sent_bytes_total", "Message bytes the device sent on one side.", []string{"side"}, nil)
	descDevDrops    = prometheus.NewDesc("zmq_device_dropped_messages_total", "Messages dropped on one side because a peer was at its high-water mark, or was unroutable.", []string{"side"}, nil)
	descDevPeers    = prometheus.NewDesc("zmq_device_peers", "Peers connected to one side.", []string{"side"}, nil)
	descDevSubs     = prometheus.NewDesc("zmq_device_subscriptions", "Distinct subscription prefixes held on one side (Forwarder).", []string{"side"}, nil)
	descDevOversize = prometheus.NewDesc("zmq_device_oversize_disconnects_total", "Peers disconnected on one side for sending a message over the socket's maxMsgSize (ZMQ_MAXMSGSIZE); each lost that message.", []string{"side"}, nil)
	descDevRequeued = prometheus.NewDesc("zmq_device_requeued_messages_total", "Messages queued for a peer that left before they were written to it, and sent to the remaining peers instead (PUSH, DEALER).", []string{"side"}, nil)
	descDevAuthFail = prometheus.NewDesc("zmq_device_auth_failures_total", "CURVE handshakes on one side that failed authentication: clients whose key is not allowed or who used a wrong server key, and (for a client side) servers that could not prove their key.", []string{"side"}, nil)
	descDevHandshk  = prometheus.NewDesc("zmq_device_handshakes_total", "Connection attempts on one side by outcome (probes and TCP health checks count as failed).", []string{"side", "result"}, nil)
)

// Describe implements prometheus.Collector.
func (d *deviceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{descDevMsgsIn, descDevMsgsOut, descDevBytesIn, descDevBytesOut, descDevDrops, descDevOversize, descDevRequeued, descDevPeers, descDevSubs, descDevHandshk, descDevAuthFail} {
		ch <- desc
	}
}

// Collect implements prometheus.Collector.
func (d *deviceCollector) Collect(ch chan<- prometheus.Metric) {
	for side, s := range d.sides {
		st := s.Stats()
		c := func(desc *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), append([]string{side}, labels...)...)
		}
		g := func(desc *prometheus.Desc, v int) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v), side)
		}
		c(descDevMsgsIn, st.MsgsIn)
		c(descDevMsgsOut, st.MsgsOut)
		c(descDevBytesIn, st.BytesIn)
		c(descDevBytesOut, st.BytesOut)
		c(descDevDrops, st.Drops)
		c(descDevOversize, st.OversizeDisconnects)
		c(descDevRequeued, st.Requeued)
		c(descDevHandshk, st.Handshakes, "ok")
		c(descDevHandshk, st.HandshakeFailures, "failed")
		c(descDevAuthFail, st.AuthFailures)
		g(descDevPeers, st.Peers)
		g(descDevSubs, st.Subscriptions)
	}
}
