package main

import (
	"context"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmqsocket"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// open opens the named socket as the operator's mounted configuration
// describes it (type, options, endpoints). A connecting socket then follows
// the file as the kubelet updates it (endpointUpdates: Live), connecting to
// new endpoints and disconnecting from removed ones, until ctx ends or the
// socket is closed.
func (a *app) open(ctx context.Context, name string) (*zmtp.Socket, error) {
	cfg, err := zmqconfig.Load(a.config)
	if err != nil {
		return nil, err
	}
	s, f, err := zmqsocket.OpenFollowing(ctx, a.config, cfg, name, a.log)
	if err != nil {
		return nil, err
	}
	// /stats shows what the socket follows: its endpoints now and how many
	// file versions it applied.
	show := func(c *zmqconfig.Config) {
		a.update(func(st map[string]any) {
			eps, _ := st["endpoints"].(map[string][]string)
			if eps == nil {
				eps = map[string][]string{}
				st["endpoints"] = eps
			}
			eps[name] = c.Socket(name).Endpoints
			reloads, _ := st["configReloads"].(map[string]uint64)
			if reloads == nil {
				reloads = map[string]uint64{}
				st["configReloads"] = reloads
			}
			reloads[name] = f.Stats().Reloads
		})
	}
	show(cfg)
	f.OnChange(show)
	return s, nil
}
