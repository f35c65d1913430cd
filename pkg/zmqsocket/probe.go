package zmqsocket

import (
	"fmt"

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
	secret, err := readSecretKey(sec.SecretKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s.secretKeyFile: %w", path, err)
	}
	public, err := secret.Public()
	if err != nil {
		return nil, fmt.Errorf("%s.secretKeyFile: %w", path, err)
	}
	creds := &zmtp.ProbeCurve{Server: public, Public: public, Secret: secret}
	if !sec.Server {
		if creds.Server, err = ReadCurvePublicKey(sec.ServerPublicKeyFile); err != nil {
			return nil, fmt.Errorf("%s.serverPublicKeyFile: %w", path, err)
		}
	}
	return creds, nil
}
