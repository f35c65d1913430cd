package zmtp

import (
	"context"
	"errors"
	"sync"
)

// CanSend reports whether sockets of type t have a Send operation.
func CanSend(t SocketType) bool { return t != PULL && t != SUB }

// CanRecv reports whether sockets of type t have a Recv operation.
func CanRecv(t SocketType) bool { return t != PUSH && t != PUB }

// proxyBatch bounds how many messages Proxy moves in one pass.
const proxyBatch = 256

// Proxy forwards messages from frontend to backend and, where the types
// allow, from backend to frontend, until ctx ends or either socket is
// closed. It is the core of the devices:
//
//	Forwarder: Proxy(ctx, xsub, xpub)   // data down, subscriptions up
//	Streamer:  Proxy(ctx, pull, push)
//	Queue:     Proxy(ctx, router, dealer)
//
// Each direction is a Forward. A receive error ends the proxy; it never
// forwards a partial or empty message in its place. It returns nil when
// ctx ended, else the first error.
func Proxy(ctx context.Context, frontend, backend *Socket) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	run := func(from, to *Socket) {
		defer wg.Done()
		if err := Forward(ctx, from, to, ForwardHooks{}); err != nil {
			if ctx.Err() == nil {
				once.Do(func() { first = err })
			}
			cancel()
		}
	}
	if CanRecv(frontend.Type()) && CanSend(backend.Type()) {
		wg.Add(1)
		go run(frontend, backend)
	}
	if CanRecv(backend.Type()) && CanSend(frontend.Type()) {
		wg.Add(1)
		go run(backend, frontend)
	}
	wg.Wait()
	if first != nil && !errors.Is(first, context.Canceled) {
		return first
	}
	return nil
}

// ForwardHooks let the caller of Forward filter and follow the messages
// it moves. Both run on Forward's goroutine, in message order.
type ForwardHooks struct {
	// Accept, when set, is called for each message received, before it
	// is sent; a message it refuses is not sent (and not counted as a
	// drop). It may keep the message.
	Accept func(Msg) bool
	// Sent, when set, is called for each accepted message once it was
	// handed to the destination as Send would (queued for a peer, or
	// dropped at a PUB's HWM).
	Sent func(Msg)
}

// Forward moves messages from one socket to another: one direction of a
// Proxy. It returns nil once from is drained (ErrDrained, see Drain), else
// the error that stopped it: ctx's, ErrClosed, or the first receive or
// send error. from must be able to receive and to to send (CanRecv,
// CanSend).
//
// Each pass takes whatever from has queued (up to 256 messages, in the
// fair order Recv would give) and sends it on in one batch, with the same
// semantics as Recv followed by Send per message: whole messages, the same
// HWMs, blocking and drops, but each lock taken and each writer woken once
// per batch. From an XSUB to a PUB or XPUB without hooks (a Forwarder's
// data direction), messages from NULL-mechanism publishers to
// NULL-mechanism subscribers move as the octets they arrived as, and no
// Msg is built for them unless they are large (rawrecv.go,
// rawforward.go).
//
// Toward a PUB or XPUB, Forward takes from the source no more messages
// than the subscriber with the most room can queue, and waits while every
// subscriber is at its send HWM (libzmq's ZMQ_XPUB_NODROP, for the
// device): the backlog pushes back on the publishers through TCP and
// their own HWM instead of being dropped at the device. A subscriber
// slower than the fastest one still misses messages at its HWM, counted
// in Stats.Drops, and never slows the others.
func Forward(ctx context.Context, from, to *Socket, h ForwardHooks) error {
	mv := newMover(from, to, h)
	rm, _ := to.pat.(roomer)
	for {
		// Toward a PUB/XPUB: wait for a message, then for room, then take
		// no more than the roomiest subscriber can queue. Room only grows
		// meanwhile: this is the only sender.
		n, err := mv.recv(ctx, 0, 1, true)
		if err == nil && rm != nil {
			limit := 0
			err = to.lb.waitRoom(ctx, func() bool {
				limit = rm.room(proxyBatch)
				return limit > 0
			})
			if err == nil {
				var more int
				more, err = mv.recv(ctx, 1, limit, false)
				n += more
			}
		} else if err == nil {
			var more int
			more, err = mv.recv(ctx, 1, proxyBatch, false)
			n += more
		}
		if err == nil {
			err = mv.send(ctx, n)
		}
		mv.clear(n)
		if errors.Is(err, ErrDrained) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
