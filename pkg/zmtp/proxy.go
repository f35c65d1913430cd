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
// Each direction takes whatever its source has queued (up to 256
// messages, in the fair order Recv would give) and sends it on in one
// pass, with the same semantics as Recv followed by Send per message:
// whole messages, the same HWMs, blocking and drops.
//
// Toward a PUB or XPUB, Proxy takes from the source no more messages than
// the subscriber with the most room can queue, and waits while every
// subscriber is at its send HWM, which pushes back on the publishers
// through TCP (and their own HWM) instead of dropping at the device. A
// subscriber slower than the fastest one still misses messages at its
// HWM, counted in Stats.Drops, and never slows the others.
//
// A receive error ends the proxy; it never forwards a partial or empty
// message in its place. It returns nil when ctx ended, else the first error.
func Proxy(ctx context.Context, frontend, backend *Socket) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	pump := func(from, to *Socket) {
		defer wg.Done()
		buf := make([]Msg, proxyBatch)
		rm, _ := to.pat.(roomer)
		for {
			// Toward a PUB/XPUB: wait for a message, then for room, then
			// take no more than the roomiest subscriber can queue. Room
			// only grows meanwhile: this pump is the only sender.
			n, err := from.recvBatch(ctx, buf[:1], true)
			if err == nil && rm != nil {
				limit := 0
				err = to.lb.waitRoom(ctx, func() bool {
					limit = rm.room(len(buf))
					return limit > 0
				})
				if err == nil {
					var more int
					more, err = from.recvBatch(ctx, buf[1:limit], false)
					n += more
				}
			} else if err == nil {
				var more int
				more, err = from.recvBatch(ctx, buf[1:], false)
				n += more
			}
			if err == nil {
				err = to.sendBatch(ctx, buf[:n])
			}
			clear(buf[:n])
			if err != nil {
				if ctx.Err() == nil {
					once.Do(func() { first = err })
				}
				cancel()
				return
			}
		}
	}
	if CanRecv(frontend.Type()) && CanSend(backend.Type()) {
		wg.Add(1)
		go pump(frontend, backend)
	}
	if CanRecv(backend.Type()) && CanSend(frontend.Type()) {
		wg.Add(1)
		go pump(backend, frontend)
	}
	wg.Wait()
	if first != nil && !errors.Is(first, context.Canceled) {
		return first
	}
	return nil
}
