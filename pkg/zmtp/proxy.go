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

// Proxy forwards messages from frontend to backend and, where the types
// allow, from backend to frontend, until ctx ends or either socket is
// closed. It is the core of the devices:
//
//	Forwarder: Proxy(ctx, xsub, xpub)   // data down, subscriptions up
//	Streamer:  Proxy(ctx, pull, push)
//	Queue:     Proxy(ctx, router, dealer)
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
		for {
			m, err := from.Recv(ctx)
			if err == nil {
				err = to.Send(ctx, m)
			}
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
