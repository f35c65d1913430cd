package zmqsocket

import (
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// ProbeCurve returns the credentials with which a health probe of a
// socket's CURVE link authenticates (nil for NULL): the socket's own key
// pair, and as server key the socket's own public key when it binds (the
// sidecar probes its own server) or its server's public key when it
// connects. The files are read at every call, so a rotated key is used at
// the next probe. Errors name the field and the file, never a key.
func ProbeCurve(sec *zmqconfig.Security, path string) (*zmtp.ProbeCurve, error) {
	if err := sec.Validate(path); err != nil {
		return nil, err
	}
	if !sec.IsCurve() {
		return nil, nil
	}
	secret, public, server, err := readCurveKeys(sec, path)
	if err != nil {
		return nil, err
	}
	return &zmtp.ProbeCurve{Server: server, Public: public, Secret: secret}, nil
}
