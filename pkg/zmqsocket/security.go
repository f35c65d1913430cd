package zmqsocket

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// maxKeyFile bounds what is read from a key file: a Z85 key is 40
// characters; room is left for white space.
const maxKeyFile = 4 << 10

// SecurityOptions reads the key files a socket's security block names and
// returns the zmtp options for its mechanism (none for NULL). Errors name
// the field and the file, never a key. path locates the block in messages
// ("socket frontend: security").
func SecurityOptions(sec *zmqconfig.Security, path string) ([]zmtp.Option, error) {
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
	if sec.PublicKeyFile != "" {
		given, err := ReadCurvePublicKey(sec.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.publicKeyFile: %w", path, err)
		}
		if !given.Equal(public) {
			return nil, fmt.Errorf("%s.publicKeyFile: %s is not the public key of the secret key in %s", path, sec.PublicKeyFile, sec.SecretKeyFile)
		}
	}
	if !sec.Server {
		return []zmtp.Option{zmtp.WithCurveClient(server, public, secret)}, nil
	}
	opts := []zmtp.Option{zmtp.WithCurveServer(secret)}
	if dir := sec.AllowedClientKeysDir; dir != "" {
		// Fail at start on an unreadable directory; afterwards it is read
		// at every handshake (see DirAuthorizer).
		if _, err := ReadCurveKeyDir(dir); err != nil {
			return nil, fmt.Errorf("%s.allowedClientKeysDir: %w", path, err)
		}
		opts = append(opts, zmtp.WithCurveAuthorizer(DirAuthorizer(dir)))
	}
	return opts, nil
}

// readCurveKeys reads the key files of a CURVE socket: its secret key, the
// public key derived from it, and the server key a client authenticates
// (for a server socket, its own public key). Errors name the field and the
// file, never a key.
func readCurveKeys(sec *zmqconfig.Security, path string) (secret zmtp.CurveSecretKey, public, server zmtp.CurvePublicKey, err error) {
	if secret, err = readSecretKey(sec.SecretKeyFile); err != nil {
		return secret, public, server, fmt.Errorf("%s.secretKeyFile: %w", path, err)
	}
	if public, err = secret.Public(); err != nil {
		return secret, public, server, fmt.Errorf("%s.secretKeyFile: %w", path, err)
	}
	server = public
	if !sec.Server {
		if server, err = ReadCurvePublicKey(sec.ServerPublicKeyFile); err != nil {
			return secret, public, server, fmt.Errorf("%s.serverPublicKeyFile: %w", path, err)
		}
	}
	return secret, public, server, nil
}

// readKeyFile reads a small key file.
func readKeyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxKeyFile {
		return "", fmt.Errorf("%s: larger than %d octets, not a Z85 key", path, maxKeyFile)
	}
	s := string(b)
	clear(b)
	return s, nil
}

// ReadCurvePublicKey reads a Z85 public key file.
func ReadCurvePublicKey(path string) (zmtp.CurvePublicKey, error) {
	s, err := readKeyFile(path)
	if err != nil {
		return zmtp.CurvePublicKey{}, err
	}
	k, err := zmtp.ParseCurvePublicKey(s)
	if err != nil {
		return k, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// readSecretKey reads a Z85 secret key file; the text is cleared after
// parsing as far as Go allows (the string itself is immutable).
func readSecretKey(path string) (zmtp.CurveSecretKey, error) {
	s, err := readKeyFile(path)
	if err != nil {
		return zmtp.CurveSecretKey{}, err
	}
	k, err := zmtp.ParseCurveSecretKey(s)
	if err != nil {
		return k, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ReadCurveKeyDir reads every public key file in dir, skipping names that
// start with "." (a Kubernetes Secret volume's ..data links) and
// subdirectories. A file that is not a Z85 public key is an error.
func ReadCurveKeyDir(dir string) ([]zmtp.CurvePublicKey, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var keys []zmtp.CurvePublicKey
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			continue
		}
		k, err := ReadCurvePublicKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// errNoKeys is returned by DirAuthorizer when the directory cannot be read:
// it fails closed.
var errNoKeys = errors.New("allowed client keys unreadable")

// DirAuthorizer returns a zmtp.CurveAuthorizer that accepts the client keys
// found in dir, read again at every handshake so a rotated Secret takes
// effect at once. An unreadable directory refuses every client.
func DirAuthorizer(dir string) zmtp.CurveAuthorizer {
	return func(remote string, client zmtp.CurvePublicKey) error {
		keys, err := ReadCurveKeyDir(dir)
		if err != nil {
			return fmt.Errorf("%w: %v", errNoKeys, err)
		}
		return zmtp.CurveAllowList(keys...)(remote, client)
	}
}
