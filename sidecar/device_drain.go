package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// This file is the device's lossless shutdown. The operator's side of it
// (surge before stop, the delay and the grace period) is described in
// controllers/render/rollout.go; on SIGTERM the device:
//
//  1. keeps forwarding for --shutdown-delay, while Kubernetes stops
//     routing new connections to the terminating pod;
//  2. drains its frontend: stops listening and dialing, shuts the sending
//     side of each frontend connection and reads until the peer closes, so
//     producers move to the replacement with nothing lost (pkg/zmtp peers
//     finish the message they started and requeue the rest; see
//     pkg/zmtp/drain.go). A Queue half-closes a client only once it has
//     no request in flight: right away for idle clients, else just after
//     forwarding its last reply; a request that arrives on a connection
//     already half-closed is not forwarded (the client's REQ learns that
//     the peer left and asks the replacement);
//  3. forwards everything the frontend received;
//  4. drains its backend the same way: what is queued for each consumer is
//     written before its connection is half-closed, and replies still owed
//     are received and forwarded;
//  5. closes. --drain-timeout bounds steps 2 to 4.

// drainSettings are the device's shutdown flags.
type drainSettings struct {
	delay   time.Duration // --shutdown-delay
	timeout time.Duration // --drain-timeout
}

// serveDevice forwards between front and back until ctx ends, then shuts
// down as described above. It returns the first forwarding error that is
// not part of the shutdown.
func serveDevice(ctx context.Context, kind string, front, back *zmtp.Socket, d drainSettings, log *slog.Logger) error {
	pumpCtx, stopPumps := context.WithCancel(context.Background())
	defer stopPumps()
	var (
		q       *queueTracker
		request func(zmtp.Msg) bool
		replied func(zmtp.Msg)
	)
	if strings.EqualFold(kind, "queue") {
		q = &queueTracker{front: front, inflight: map[string]int{}, closed: map[string]bool{}}
		request, replied = q.request, q.replied
	}
	fwd := startPump(pumpCtx, front, back, request, nil)
	var rev *pump
	if zmtp.CanRecv(back.Type()) && zmtp.CanSend(front.Type()) {
		rev = startPump(pumpCtx, back, front, nil, replied)
	}

	select {
	case <-ctx.Done():
	case <-fwd.done:
		return fwd.err
	case <-rev.doneChan():
		return rev.err
	}
	log.Info("device stopping: serving on while Kubernetes stops routing to this pod", "delay", d.delay.String())
	select {
	case <-time.After(d.delay):
	case <-fwd.done:
	case <-rev.doneChan():
	}

	start := time.Now()
	dctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	var err error
	if q != nil {
		front.StopAccepting()
		q.startDrain()
		err = front.WaitPeersGone(dctx)
	} else {
		err = front.Drain(dctx)
	}
	if err == nil {
		err = fwd.wait(dctx)
	}
	if err == nil {
		err = back.Drain(dctx)
	}
	if err == nil {
		err = rev.wait(dctx)
	}
	stopPumps()
	fs, bs := front.Stats(), back.Stats()
	attrs := []any{"took", time.Since(start).Round(time.Millisecond).String(),
		"frontendIn", fs.MsgsIn, "backendOut", bs.MsgsOut, "backendIn", bs.MsgsIn, "frontendOut", fs.MsgsOut}
	if q != nil {
		attrs = append(attrs, "requestsRefusedWhileDraining", q.refused.Load(), "repliesOwed", q.owed())
	}
	if err != nil {
		log.Warn("device drain incomplete; closing with what is left", append(attrs, "error", err.Error())...)
	} else {
		log.Info("device drained", attrs...)
	}
	if fwd.err != nil && !errors.Is(fwd.err, context.Canceled) {
		return fwd.err
	}
	return nil
}

// pump forwards messages from one socket to the other in a goroutine.
type pump struct {
	done chan struct{}
	err  error // set before done closes; nil when the source drained
}

// startPump forwards from → to with zmtp.Forward (batched, and holding
// back toward a Forwarder's XPUB rather than dropping there). accept, when
// set, decides whether a message is forwarded; sent, when set, runs after
// a message was handed to the destination.
func startPump(ctx context.Context, from, to *zmtp.Socket, accept func(zmtp.Msg) bool, sent func(zmtp.Msg)) *pump {
	p := &pump{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = zmtp.Forward(ctx, from, to, zmtp.ForwardHooks{Accept: accept, Sent: sent})
	}()
	return p
}

// doneChan is done, or nil (never ready) for an absent pump.
func (p *pump) doneChan() <-chan struct{} {
	if p == nil {
		return nil
	}
	return p.done
}

// wait waits until the pump's source drained and everything it received
// was handed on.
func (p *pump) wait(ctx context.Context) error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// queueTracker counts, per client of a Queue's ROUTER frontend, the
// requests forwarded and not yet answered, so that a draining Queue
// half-closes each client only when it owes it nothing.
type queueTracker struct {
	front    *zmtp.Socket
	mu       sync.Mutex
	inflight map[string]int  // routing id -> requests awaiting a reply
	closed   map[string]bool // routing ids already half-closed
	draining bool
	refused  atomic.Uint64
}

// request is the forward pump's filter: it counts a request, or refuses
// it when its client was already half-closed.
func (q *queueTracker) request(m zmtp.Msg) bool {
	if q == nil {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	id := string(m[0])
	// A client that connected while the drain began is half-closed as it
	// attaches (pkg/zmtp), without passing through startDrain.
	if q.closed[id] || (q.draining && q.front.PeerClosing(m[0])) {
		q.closed[id] = true
		q.refused.Add(1)
		return false
	}
	q.inflight[id]++
	return true
}

// replied runs after a reply was queued to its client: a draining Queue
// then half-closes the client if nothing else is owed to it.
func (q *queueTracker) replied(m zmtp.Msg) {
	if q == nil || len(m) == 0 {
		return
	}
	q.mu.Lock()
	id := string(m[0])
	if q.inflight[id] > 1 {
		q.inflight[id]--
	} else {
		delete(q.inflight, id)
	}
	closeIt := q.draining && q.inflight[id] == 0 && !q.closed[id]
	if closeIt {
		q.closed[id] = true
	}
	q.mu.Unlock()
	if closeIt {
		q.front.HalfClosePeer(m[0])
	}
}

// startDrain half-closes every client owed nothing; the others follow
// their last reply.
func (q *queueTracker) startDrain() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.draining = true
	q.front.HalfCloseIdle(func(id []byte) bool {
		if q.inflight[string(id)] > 0 {
			return true
		}
		q.closed[string(id)] = true
		return false
	})
}

// owed is the number of requests still awaiting a reply.
func (q *queueTracker) owed() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, v := range q.inflight {
		n += v
	}
	return n
}
