package main

import (
	"errors"
	"log/slog"
	"net"
	"sync"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// maxOversizePeersLogged bounds the memory spent remembering which peers
// were already logged; later offenders are still counted in
// zmq_device_oversize_disconnects_total.
const maxOversizePeersLogged = 1024

// oversizeLog warns once per peer host when a device disconnects a peer for
// sending a message over the socket's maxMsgSize (ZMQ_MAXMSGSIZE): that
// message is lost, and the operator of the topology needs to know which
// peer and which limit. Every occurrence is counted in the socket's
// Stats.OversizeDisconnects, exported as
// zmq_device_oversize_disconnects_total.
type oversizeLog struct {
	log   *slog.Logger
	side  string
	limit int64

	mu     sync.Mutex
	logged map[string]bool
}

func newOversizeLog(log *slog.Logger, side string, limit int64) *oversizeLog {
	return &oversizeLog{log: log, side: side, limit: limit, logged: map[string]bool{}}
}

// observe is a zmtp.WithDisconnectObserver callback.
func (o *oversizeLog) observe(remote string, err error) {
	if !errors.Is(err, zmtp.ErrFrameTooLarge) {
		return
	}
	host, _, splitErr := net.SplitHostPort(remote)
	if splitErr != nil {
		host = remote
	}
	o.mu.Lock()
	first := !o.logged[host] && len(o.logged) < maxOversizePeersLogged
	if first {
		o.logged[host] = true
	}
	o.mu.Unlock()
	if first {
		o.log.Warn("disconnected a peer that sent a message over maxMsgSize; the message is lost (logged once per peer, counted in zmq_device_oversize_disconnects_total; raise the socket's options.maxMsgSize to accept it)",
			"side", o.side, "peer", host, "maxMsgSize", o.limit)
	}
}
