package render

import (
	"crypto/sha256"
	"encoding/hex"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// This file owns what endpointUpdates changes in a component's pod
// template.
//
// Under Restart (the default) the pod template carries every resolved
// endpoint as ZMQ_<SOCKET>_ENDPOINTS, so when a target component scales
// and its per-replica endpoints change, the connectors' templates change
// and their pods roll: applications that read only environment variables
// always see the current endpoints.
//
// Under Live the endpoints that follow a target component (connects to a
// component of the topology, whose endpoint list depends on the target's
// replicas) stay out of the template. The ConfigMap still carries them in
// zmqconfig.FileName, mounted as a directory (no subPath), which the
// kubelet updates in place with an atomic symlink swap; pkg/zmqsocket
// follows it on the open sockets. Everything else in the configuration
// (socket types, bind ports, options, the target's socket, fixed
// addresses) still rolls the pods when it changes: the template carries
// the other environment variables as before plus AnnotationConfigHash, a
// hash of the configuration with the live endpoints blanked, so a change
// that an in-place update cannot apply (a socket option, a peer's type)
// restarts the pods exactly as under Restart.

// EnvEndpointUpdates is set to "Live" in the containers of a Live
// component (and absent under Restart): ZMQ_<SOCKET>_ENDPOINTS is then
// absent for the sockets whose endpoints follow a target component, and
// the application reads them from zmqconfig.Path and follows the file.
const EnvEndpointUpdates = "ZMQ_ENDPOINT_UPDATES"

// liveSocket reports whether the endpoints of socket s follow a target
// component of the topology: a connect to a component (not to a fixed
// address).
func liveSocket(s *zmqconfig.Socket) bool { return !s.Bind && s.Peer != nil }

// templateConfig is the part of cfg that belongs in c's pod template:
// all of it under Restart; under Live, a copy with the endpoints of live
// sockets removed.
func templateConfig(c *zmqv1.Component, cfg *zmqconfig.Config) *zmqconfig.Config {
	if !c.LiveEndpoints() {
		return cfg
	}
	out := *cfg
	out.Sockets = make([]zmqconfig.Socket, len(cfg.Sockets))
	for i, s := range cfg.Sockets {
		if liveSocket(&s) {
			s.Endpoints = nil
		}
		out.Sockets[i] = s
	}
	return &out
}

// templateEnv returns the environment variables c's containers get and
// the names the operator owns but leaves unset (a user's variable of that
// name is removed too: the mounted file is the source of truth for live
// endpoints).
func templateEnv(c *zmqv1.Component, cfg *zmqconfig.Config) (env []zmqconfig.Env, unset []string) {
	if !c.LiveEndpoints() {
		// Unchanged from before endpointUpdates existed, so that upgrading
		// the operator does not roll Restart components.
		return cfg.Env(), []string{EnvEndpointUpdates}
	}
	live := map[string]bool{}
	for i := range cfg.Sockets {
		if liveSocket(&cfg.Sockets[i]) {
			name := zmqconfig.EnvPrefix(cfg.Sockets[i].Name) + "ENDPOINTS"
			live[name] = true
			unset = append(unset, name)
		}
	}
	for _, e := range cfg.Env() {
		if !live[e.Name] {
			env = append(env, e)
		}
	}
	return append(env, zmqconfig.Env{Name: EnvEndpointUpdates, Value: string(zmqv1.EndpointUpdatesLive)}), unset
}

// configHash is the value of AnnotationConfigHash on the pods of a Live
// component: a hash of templateConfig, so that any change of the
// configuration other than live endpoints rolls the pods. Restart
// components have none (their environment already carries everything).
func configHash(c *zmqv1.Component, cfg *zmqconfig.Config) (string, bool, error) {
	if !c.LiveEndpoints() {
		return "", false, nil
	}
	data, err := templateConfig(c, cfg).Marshal()
	if err != nil {
		return "", false, err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16]), true, nil
}
