// Package sockdiag reads the TCP connections of the current network
// namespace from the kernel's sock_diag netlink interface (what `ss -ti`
// shows) and turns them into per-socket statistics. Pods share one network
// namespace, so a sidecar sees the application's connections without any
// change to the application, whatever its language.
package sockdiag

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TCP states (include/net/tcp_states.h).
const (
	StateEstablished = 1
	StateTimeWait    = 6
	StateClose       = 7
	StateListen      = 10
)

// open reports whether c is a connection, not a listener nor a socket
// already closed by both sides. A connection closed actively lingers for a
// minute in TIME_WAIT (every probe the agent closes does): counting those
// would report hundreds of connections where the application has one.
func open(c Conn) bool {
	return c.State != StateListen && c.State != StateTimeWait && c.State != StateClose
}

// Conn is one TCP socket as the kernel reports it.
type Conn struct {
	Local, Remote netip.AddrPort
	State         uint8
	// Cookie identifies the socket for its lifetime.
	Cookie uint64
	// RecvQ and SendQ are the bytes queued in the kernel: not yet read by
	// the application, and not yet acknowledged by the peer.
	RecvQ, SendQ uint32
	// RTT is the smoothed round-trip time.
	RTT time.Duration
	// Retransmits is the total number of retransmitted segments.
	Retransmits uint32
	// BytesAcked and BytesReceived count payload bytes sent (and
	// acknowledged) and received over the connection's life.
	BytesAcked, BytesReceived uint64
}

// Dump returns every TCP socket (IPv4 and IPv6) of this network namespace.
func Dump() ([]Conn, error) {
	var out []Conn
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		resp, err := netlink.SocketDiagTCPInfo(family)
		if err != nil {
			return nil, fmt.Errorf("sock_diag dump (family %d): %w", family, err)
		}
		for _, r := range resp {
			if r.InetDiagMsg == nil {
				continue
			}
			out = append(out, fromNetlink(r))
		}
	}
	return out, nil
}

func fromNetlink(r *netlink.InetDiagTCPInfoResp) Conn {
	m := r.InetDiagMsg
	c := Conn{
		Local:  addrPort(m.ID.Source, m.ID.SourcePort),
		Remote: addrPort(m.ID.Destination, m.ID.DestinationPort),
		State:  m.State,
		Cookie: uint64(m.ID.Cookie[1])<<32 | uint64(m.ID.Cookie[0]),
		RecvQ:  m.RQueue,
		SendQ:  m.WQueue,
	}
	if i := r.TCPInfo; i != nil {
		c.RTT = time.Duration(i.Rtt) * time.Microsecond
		c.Retransmits = i.Total_retrans
		c.BytesAcked = i.Bytes_acked
		c.BytesReceived = i.Bytes_received
	}
	return c
}

func addrPort(ip []byte, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}

// Listening reports whether conns include a socket listening on port.
func Listening(conns []Conn, port uint16) bool {
	for _, c := range conns {
		if c.State == StateListen && c.Local.Port() == port {
			return true
		}
	}
	return false
}

// Matcher selects the connections that belong to one ZeroMQ socket.
type Matcher func(Conn) bool

// Bound matches the open accepted connections of a socket listening on
// port.
func Bound(port uint16) Matcher {
	return func(c Conn) bool { return open(c) && c.Local.Port() == port }
}

// Connected matches the open connections to any of the given remote
// addresses.
func Connected(remotes map[netip.AddrPort]bool) Matcher {
	return func(c Conn) bool { return open(c) && remotes[c.Remote] }
}

// Stats are one socket's statistics. Connections, queues and RTT describe
// the connections open now; the byte and retransmit counters only grow:
// they include what connections that have since closed had counted when
// last seen.
type Stats struct {
	Connections              int
	RecvQueue, SendQueue     uint64
	MeanRTT                  time.Duration
	BytesSent, BytesReceived uint64
	Retransmits              uint64
}

// Tracker turns successive dumps into per-socket statistics with monotonic
// counters. It is safe for concurrent use.
type Tracker struct {
	mu     sync.Mutex
	last   map[uint64]Conn  // by cookie, from the previous update
	totals map[string]Stats // counters by socket name
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{last: map[uint64]Conn{}, totals: map[string]Stats{}}
}

// Update attributes conns to the sockets that match them (a connection
// counts for the first matching socket, in the order of names) and returns
// every socket's statistics.
func (t *Tracker) Update(conns []Conn, names []string, match map[string]Matcher) map[string]Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := map[string]Stats{}
	seen := make(map[uint64]Conn, len(conns))
	for _, c := range conns {
		for _, name := range names {
			if !match[name](c) {
				continue
			}
			prev, known := t.last[c.Cookie]
			tot := t.totals[name]
			if known {
				tot.BytesSent += delta(c.BytesAcked, prev.BytesAcked)
				tot.BytesReceived += delta(c.BytesReceived, prev.BytesReceived)
				tot.Retransmits += delta(uint64(c.Retransmits), uint64(prev.Retransmits))
			} else {
				tot.BytesSent += c.BytesAcked
				tot.BytesReceived += c.BytesReceived
				tot.Retransmits += uint64(c.Retransmits)
			}
			t.totals[name] = tot
			seen[c.Cookie] = c

			s := now[name]
			s.Connections++
			s.RecvQueue += uint64(c.RecvQ)
			s.SendQueue += uint64(c.SendQ)
			s.MeanRTT += c.RTT // summed here, divided below
			now[name] = s
			break
		}
	}
	t.last = seen
	out := make(map[string]Stats, len(names))
	for _, name := range names {
		s := now[name]
		if s.Connections > 0 {
			s.MeanRTT /= time.Duration(s.Connections)
		}
		tot := t.totals[name]
		s.BytesSent, s.BytesReceived, s.Retransmits = tot.BytesSent, tot.BytesReceived, tot.Retransmits
		out[name] = s
	}
	return out
}

func delta(now, before uint64) uint64 {
	if now < before {
		return 0
	}
	return now - before
}
