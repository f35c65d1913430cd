package zmqsocket

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// keyFiles writes a fresh key pair as Z85 files in dir and returns the
// paths and the public key.
func keyFiles(t *testing.T, dir, name string) (pubPath, secPath string, pub zmtp.CurvePublicKey) {
	t.Helper()
	pub, sec, err := zmtp.GenerateCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	pubPath, secPath = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".secret")
	if err := os.WriteFile(pubPath, []byte(pub.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secPath, []byte(sec.Z85()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return pubPath, secPath, pub
}

func freeEndpoint(t *testing.T) (string, int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return fmt.Sprintf("tcp://127.0.0.1:%d", port), port
}

// TestOpenCurve: a CURVE server with an allowed-keys directory and its
// clients, all from key files; the directory is read at every handshake,
// so adding and removing a key file (a rotated Secret) takes effect
// without reopening the server.
func TestOpenCurve(t *testing.T) {
	keys, clients := t.TempDir(), t.TempDir()
	serverPubPath, serverSec, _ := keyFiles(t, keys, "server")
	memberPub, memberSec, _ := keyFiles(t, keys, "member")
	newPub, newSec, _ := keyFiles(t, keys, "rotated")
	// The allowed directory holds the member's public key, plus what a
	// Secret volume adds.
	copyFile(t, memberPub, filepath.Join(clients, "member"))
	if err := os.Mkdir(filepath.Join(clients, "..2026_11_30"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clients, "..data"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}

	ep, port := freeEndpoint(t)
	pull, err := Open(zmqconfig.Socket{Name: "in", Type: "PULL", Bind: true, Port: port, Endpoints: []string{ep},
		Security: &zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: serverSec, AllowedClientKeysDir: clients}})
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	client := func(pub, sec string) *zmtp.Socket {
		s, err := Open(zmqconfig.Socket{Name: "out", Type: "PUSH", Endpoints: []string{ep},
			Security: &zmqconfig.Security{Mechanism: "curve", SecretKeyFile: sec, PublicKeyFile: pub, ServerPublicKeyFile: serverPubPath}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	deliver := func(s *zmtp.Socket, body string) {
		t.Helper()
		if err := s.Send(ctx, zmtp.NewMsgString(body)); err != nil {
			t.Fatal(err)
		}
		if m, err := pull.Recv(ctx); err != nil || string(m[0]) != body {
			t.Fatalf("got %q, %v", m, err)
		}
	}
	deliver(client(memberPub, memberSec), "member")

	// Not yet allowed: refused and counted.
	rotated := client(newPub, newSec)
	waitFor(t, "an auth failure", func() bool { return pull.Stats().AuthFailures >= 1 })
	// Allowed once its key file appears; the client's reconnect gets in.
	copyFile(t, newPub, filepath.Join(clients, "rotated"))
	deliver(rotated, "rotated")

	// Removing the member's key refuses its next connection.
	if err := os.Remove(filepath.Join(clients, "member")); err != nil {
		t.Fatal(err)
	}
	before := pull.Stats().AuthFailures
	client(memberPub, memberSec)
	waitFor(t, "another auth failure", func() bool { return pull.Stats().AuthFailures > before })
}

func TestOpenCurveErrors(t *testing.T) {
	keys := t.TempDir()
	_, sec, _ := keyFiles(t, keys, "a")
	otherPub, _, _ := keyFiles(t, keys, "b")
	bad := filepath.Join(keys, "bad")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		sec   zmqconfig.Security
		field string
	}{
		{"missing secret file", zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: filepath.Join(keys, "nope")}, "security.secretKeyFile"},
		{"garbage secret file", zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: bad}, "security.secretKeyFile"},
		{"public key of another pair", zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: sec, PublicKeyFile: otherPub}, "security.publicKeyFile"},
		{"garbage server key", zmqconfig.Security{Mechanism: "CURVE", SecretKeyFile: sec, ServerPublicKeyFile: bad}, "security.serverPublicKeyFile"},
		{"missing allowed dir", zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: sec, AllowedClientKeysDir: filepath.Join(keys, "nodir")}, "security.allowedClientKeysDir"},
		{"allowed dir with garbage", zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: sec, AllowedClientKeysDir: keys}, "security.allowedClientKeysDir"},
		{"client without server key", zmqconfig.Security{Mechanism: "CURVE", SecretKeyFile: sec}, "security.serverPublicKeyFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.sec
			_, err := Open(zmqconfig.Socket{Name: "x", Type: "PULL", Security: &s})
			if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "socket x") {
				t.Fatalf("Open() = %v; want an error naming socket x and %s", err, tc.field)
			}
			secret, _ := os.ReadFile(sec)
			if strings.Contains(err.Error(), strings.TrimSpace(string(secret))) {
				t.Fatal("error quotes the secret key")
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
