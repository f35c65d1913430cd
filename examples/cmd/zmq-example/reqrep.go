package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	gozmq "github.com/go-zeromq/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// runClient sends "ping <seq>" requests and counts the replies that echo
// them. When the REQ reports that the peer holding a request left before
// replying (zmtp.ErrPeerGone: a broker restarting or draining), the same
// request is sent again and counted in "retries". A request unanswered
// within 5 s is counted as lost and the REQ socket is reopened (a REQ waits
// for its reply forever otherwise).
func runClient(ctx context.Context, a *app) error {
	req, err := a.open(ctx, "requests")
	if err != nil {
		return err
	}
	defer func() { req.Close() }()
	replies, lost, retries := 0, 0, 0
	return a.tick(ctx, func(seq int) error {
		want := fmt.Sprintf("ping %d", seq)
		for {
			if err := req.Send(ctx, zmtp.NewMsgString(want)); err != nil {
				return err
			}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			m, err := req.Recv(rctx)
			cancel()
			switch {
			case err == nil && strings.HasPrefix(string(m[0]), "pong "+strings.TrimPrefix(want, "ping ")+" "):
				replies++
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, zmtp.ErrPeerGone):
				retries++
				continue
			default:
				lost++
				req.Close()
				if req, err = a.open(ctx, "requests"); err != nil {
					return err
				}
			}
			break
		}
		a.update(func(s map[string]any) {
			s["sent"] = seq + 1
			s["replies"] = replies
			s["lost"] = lost
			s["retries"] = retries
		})
		return nil
	})
}

// runReplier answers "ping <seq>" with "pong <seq> <host>" like the server
// role, on a pkg/zmtp REP opened from the mounted configuration, so it
// follows a broker that restarts or drains (it reconnects for as long as
// it runs).
func runReplier(ctx context.Context, a *app) error {
	rep, err := a.open(ctx, "requests")
	if err != nil {
		return err
	}
	defer rep.Close()
	for served := 1; ; served++ {
		m, err := rep.Recv(ctx)
		if err != nil {
			return err
		}
		seq := strings.TrimPrefix(string(m[0]), "ping ")
		if err := rep.Send(ctx, zmtp.NewMsgString("pong "+seq+" "+a.host)); err != nil {
			return err
		}
		a.update(func(s map[string]any) { s["served"] = served })
	}
}

// runServer answers "ping <seq>" with "pong <seq> <host>". It is written with
// go-zeromq/zmq4, as Go users' own pods are, and reads its endpoints from the
// environment variables the operator injects.
func runServer(ctx context.Context, a *app) error {
	if t := os.Getenv("ZMQ_REQUESTS_TYPE"); t != "REP" {
		return fmt.Errorf("ZMQ_REQUESTS_TYPE is %q; this server is a REP", t)
	}
	endpoints := strings.Split(os.Getenv("ZMQ_REQUESTS_ENDPOINTS"), ",")
	// zmq4 gives up reconnecting after 10 tries by default; the broker may
	// start after us or restart, so retry forever.
	rep := gozmq.NewRep(ctx, gozmq.WithDialerMaxRetries(-1), gozmq.WithDialerRetry(250*time.Millisecond))
	defer rep.Close()
	for _, ep := range endpoints {
		var err error
		if os.Getenv("ZMQ_REQUESTS_BIND") == "true" {
			err = rep.Listen(ep)
		} else {
			err = rep.Dial(ep)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", ep, err)
		}
	}
	a.log.Info("serving", "endpoints", endpoints)
	for served := 1; ; served++ {
		m, err := rep.Recv()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		seq := strings.TrimPrefix(string(m.Frames[0]), "ping ")
		if err := rep.Send(gozmq.NewMsgString("pong " + seq + " " + a.host)); err != nil {
			return err
		}
		a.update(func(s map[string]any) { s["served"] = served })
	}
}
