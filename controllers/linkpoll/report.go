package linkpoll

import (
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/zmq-operator/zmq-operator/pkg/agentstatus"
)

// TopologyReport is what the poller last learned from the sidecars of one
// topology's running pods: the input of the link roll-up. It holds only
// what a person would act on (up or down, the error's cause, RTTs rounded
// to buckets), so that it changes only when the roll-up could: the poller
// compares successive reports to decide whether the topology needs a
// reconcile. A report is immutable once published.
type TopologyReport struct {
	// Pods by pod name.
	Pods map[string]PodReport
}

// PodReport is one pod's sidecar, as last polled.
type PodReport struct {
	// Pod and Component name the pod and the component it runs
	// (its zmq.topology.dev/component label).
	Pod       string
	Component string
	// Ready is the pod's Ready condition.
	Ready bool
	// Pending is true while the pod's sidecar has not answered yet and
	// the poller first saw the pod running less than the stale period ago:
	// the pod is starting, and its connections are not known yet (neither
	// up nor down). Sockets is then nil.
	Pending bool
	// Stale is true when the poller has no recent answer from the pod's
	// sidecar: none within the stale period (3 poll periods by default),
	// or none ever for longer than that. Its peers then count as down, and
	// Sockets is nil.
	Stale bool
	// Error is why the last poll failed (when Stale).
	Error string
	// Sockets are the connecting sockets of the pod, by socket name.
	Sockets map[string][]PeerReport
}

// PeerReport is one endpoint of a connecting socket.
type PeerReport struct {
	// Endpoint as configured in the pod.
	Endpoint string
	// Up is the last probe's outcome; false until the first probe.
	Up bool
	// Pending is true until the sidecar has probed the endpoint once
	// (the pod just started, or the endpoint was just added): the
	// connection is not known yet, neither up nor down.
	Pending bool
	// Error is the cause of the last failed probe, shortened by
	// ShortError so that it does not change from probe to probe.
	Error string
	// RTTMicros is the probe's round trip (agentstatus.Probe.RTTMicros)
	// rounded up by Bucket; 0 when down.
	RTTMicros int64
}

// NewPodReport normalizes the document of a pod's sidecar into a PodReport:
// the connecting sockets' peers, with errors shortened and RTTs bucketed.
func NewPodReport(pod, component string, ready bool, doc *agentstatus.Document) PodReport {
	r := PodReport{Pod: pod, Component: component, Ready: ready, Sockets: map[string][]PeerReport{}}
	for _, s := range doc.Sockets {
		if s.Bind {
			continue
		}
		peers := make([]PeerReport, 0, len(s.Peers))
		for _, p := range s.Peers {
			pr := PeerReport{Endpoint: p.Endpoint, Up: p.Probed && p.Up}
			switch {
			case pr.Up:
				pr.RTTMicros = Bucket(p.RTTMicros())
			case !p.Probed:
				pr.Pending = true
			default:
				pr.Error = ShortError(p.LastError)
			}
			peers = append(peers, pr)
		}
		r.Sockets[s.Name] = peers
	}
	return r
}

// Bucket rounds a duration in microseconds up to the next value of the
// 1-2-5 series (1, 2, 5, 10, 20, 50, ... µs), so that small jitter in a
// round trip does not change status: 101 µs and 180 µs are both 200.
// Values <= 0 are 0.
func Bucket(micros int64) int64 {
	if micros <= 0 {
		return 0
	}
	for decade := int64(1); ; decade *= 10 {
		for _, m := range [...]int64{1, 2, 5} {
			if b := m * decade; b >= micros {
				return b
			}
		}
		if decade > 1e15 {
			return micros
		}
	}
}

// addrPort matches host:port pairs and ephemeral details that differ from
// one probe to the next.
var addrPort = regexp.MustCompile(`\S+:\d+->\S+:\d+`)

// ShortError is the cause of a probe error, without what changes from one
// probe to the next (local ports): the text after the last ": ", such as
// "connection refused" for "zmtp: probe tcp://10.0.0.7:5557 failed at
// connect: dial tcp 10.0.0.7:5557: connect: connection refused", or
// "i/o timeout".
func ShortError(err string) string {
	err = strings.TrimSpace(addrPort.ReplaceAllString(err, ""))
	err = strings.TrimRight(err, ")")
	if i := strings.LastIndex(err, ": "); i >= 0 {
		err = err[i+2:]
	}
	if err == "" {
		return "down"
	}
	return err
}

// PeerHost names the peer of an endpoint for messages: the first label of
// its host, such as "pipe-ventilator-0" for
// "tcp://pipe-ventilator-0.pipe-ventilator-headless.ns.svc.cluster.local:5557",
// or the host itself when it is an address.
func PeerHost(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return endpoint
	}
	h := u.Hostname()
	if strings.ContainsAny(h, ":") || isIPv4(h) {
		return u.Host
	}
	if i := strings.IndexByte(h, '.'); i > 0 {
		return h[:i]
	}
	return h
}

func isIPv4(h string) bool {
	return strings.Trim(h, "0123456789.") == "" && strings.Count(h, ".") == 3
}

// PodNames lists the report's pods in name order.
func (r *TopologyReport) PodNames() []string {
	names := make([]string, 0, len(r.Pods))
	for n := range r.Pods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
