package main

import (
	"fmt"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmqsocket"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// probeOptions are the options of a probe of socket s (its bound port or
// one of its peers). With CURVE the probe authenticates with the
// component's own key pair, read from the mounted files at every probe so
// a rotation takes effect without a restart, and states the type it
// expects, so that it completes a CURVE handshake only as that type's
// silent partner (zmtp.ProbeOptions.Expect): never as a pipe of a bound
// PUSH.
func probeOptions(s zmqconfig.Socket, mode zmtp.ProbeMode) (zmtp.ProbeOptions, error) {
	opts := zmtp.ProbeOptions{Mode: mode}
	creds, err := zmqsocket.ProbeCurve(s.Security, "socket "+s.Name+": security")
	if err != nil || creds == nil {
		return opts, err
	}
	opts.Curve = creds
	want := s.Type
	if !s.Bind {
		if s.Peer == nil {
			return opts, nil // stop after WELCOME: we do not know its type
		}
		want = s.Peer.Type
	}
	if opts.Expect, err = zmtp.ParseSocketType(want); err != nil {
		return opts, fmt.Errorf("socket %s: %w", s.Name, err)
	}
	return opts, nil
}

// boundAnswers checks a probe of a bound socket: the peer must report the
// socket's type. A CURVE server of a type without a silent partner (PUSH,
// DEALER, REQ, PAIR) never tells its type to a probe that must not become
// its pipe; for it, a WELCOME that opened with the component's own key (the
// server holds the component's secret key) is the answer.
func boundAnswers(s zmqconfig.Socket, ep string, res zmtp.ProbeResult) error {
	if res.SocketType == 0 && res.Mechanism == zmtp.MechanismCurve && res.ServerAuthenticated && !res.SentReady {
		if t, err := zmtp.ParseSocketType(s.Type); err == nil {
			if _, silent := zmtp.SilentPeer(t); !silent {
				return nil
			}
		}
	}
	if res.SocketType.String() != s.Type {
		return fmt.Errorf("%s answers as %s, not %s", ep, res.SocketType, s.Type)
	}
	return nil
}
