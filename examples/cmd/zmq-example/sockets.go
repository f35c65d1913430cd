package main

import (
	"fmt"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmqsocket"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// open opens the named socket as the operator's mounted configuration
// describes it (type, options, endpoints).
func (a *app) open(name string) (*zmtp.Socket, error) {
	cfg, err := zmqconfig.Load(a.config)
	if err != nil {
		return nil, err
	}
	s := cfg.Socket(name)
	if s == nil {
		return nil, fmt.Errorf("component %s has no socket %q in %s", cfg.Component, name, a.config)
	}
	return zmqsocket.Open(*s)
}
