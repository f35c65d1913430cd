package zmqconfig

import (
	"fmt"
	"strings"
)

// Security mechanism names (ZMTP RFC 23; CURVE is RFC 26).
const (
	MechanismNull  = "NULL"
	MechanismCurve = "CURVE"
)

// Security is a socket's security mechanism and where its keys are. Keys
// live in files (the operator mounts them from Secrets), never in the
// configuration itself: each key file holds one 40-character Z85 key (RFC
// 32), surrounding white space ignored. A nil Security, or Mechanism
// empty or "NULL", is the NULL mechanism.
type Security struct {
	// Mechanism is "NULL" (the default) or "CURVE".
	Mechanism string `json:"mechanism,omitempty"`
	// Server makes the socket the CURVE server (libzmq's
	// ZMQ_CURVE_SERVER); usually the bound socket is the server and each
	// connecting socket a client.
	Server bool `json:"server,omitempty"`
	// SecretKeyFile is the path of the socket's long-term secret key
	// (libzmq's ZMQ_CURVE_SECRETKEY); required with CURVE.
	SecretKeyFile string `json:"secretKeyFile,omitempty"`
	// PublicKeyFile is the path of the socket's long-term public key
	// (libzmq's ZMQ_CURVE_PUBLICKEY); optional, as it follows from the
	// secret key; when given it must match.
	PublicKeyFile string `json:"publicKeyFile,omitempty"`
	// ServerPublicKeyFile is the path of the public key of the server a
	// CURVE client connects to (libzmq's ZMQ_CURVE_SERVERKEY); required
	// for a client, not allowed for a server.
	ServerPublicKeyFile string `json:"serverPublicKeyFile,omitempty"`
	// AllowedClientKeysDir is a directory of client public key files, one
	// key per file (names starting with "." are ignored, as are the
	// bookkeeping entries of a Kubernetes Secret volume). A CURVE server
	// accepts only those clients; the directory is read again at every
	// handshake, so keys added or removed (a rotated Secret) take effect
	// without a restart. Empty: every client that completes the handshake
	// is accepted (libzmq without a ZAP handler). Server only.
	AllowedClientKeysDir string `json:"allowedClientKeysDir,omitempty"`
}

// IsCurve reports whether s selects CURVE.
func (s *Security) IsCurve() bool {
	return s != nil && strings.EqualFold(s.Mechanism, MechanismCurve)
}

// Validate checks s, naming the offending field (path is its location,
// such as "sockets[0].security").
func (s *Security) Validate(path string) error {
	if s == nil {
		return nil
	}
	switch {
	case s.Mechanism == "" || strings.EqualFold(s.Mechanism, MechanismNull):
		if s.Server || s.SecretKeyFile != "" || s.PublicKeyFile != "" || s.ServerPublicKeyFile != "" || s.AllowedClientKeysDir != "" {
			return fmt.Errorf("%s: keys and server are only meaningful with mechanism CURVE", path)
		}
		return nil
	case !s.IsCurve():
		return fmt.Errorf("%s.mechanism: %q is not NULL or CURVE", path, s.Mechanism)
	case s.SecretKeyFile == "":
		return fmt.Errorf("%s.secretKeyFile: required with mechanism CURVE", path)
	case s.Server && s.ServerPublicKeyFile != "":
		return fmt.Errorf("%s.serverPublicKeyFile: not allowed on a CURVE server", path)
	case !s.Server && s.ServerPublicKeyFile == "":
		return fmt.Errorf("%s.serverPublicKeyFile: required on a CURVE client", path)
	case !s.Server && s.AllowedClientKeysDir != "":
		return fmt.Errorf("%s.allowedClientKeysDir: only a CURVE server authorises clients", path)
	}
	return nil
}

// env returns the security variables of a socket: _MECHANISM, and with
// CURVE _CURVE_SERVER ("1"/"0") and the key file paths
// (_CURVE_SECRETKEY_FILE, _CURVE_PUBLICKEY_FILE, _CURVE_SERVERKEY_FILE,
// _CURVE_ALLOWED_KEYS_DIR), named after the libzmq options.
func (s *Security) env(prefix string) []Env {
	if s == nil || s.Mechanism == "" {
		return nil
	}
	env := []Env{{prefix + "MECHANISM", strings.ToUpper(s.Mechanism)}}
	if !s.IsCurve() {
		return env
	}
	server := "0"
	if s.Server {
		server = "1"
	}
	env = append(env, Env{prefix + "CURVE_SERVER", server})
	add := func(name, v string) {
		if v != "" {
			env = append(env, Env{prefix + name, v})
		}
	}
	add("CURVE_SECRETKEY_FILE", s.SecretKeyFile)
	add("CURVE_PUBLICKEY_FILE", s.PublicKeyFile)
	add("CURVE_SERVERKEY_FILE", s.ServerPublicKeyFile)
	add("CURVE_ALLOWED_KEYS_DIR", s.AllowedClientKeysDir)
	return env
}
