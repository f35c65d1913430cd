package main

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

// curveKeyFiles is a key pair for a device test, in memory and as files.
type curveKeyFiles struct {
	pub     zmtp.CurvePublicKey
	sec     zmtp.CurveSecretKey
	secPath string
}

func writeCurveKeys(t *testing.T, dir, name string) curveKeyFiles {
	t.Helper()
	pub, sec, err := zmtp.GenerateCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	k := curveKeyFiles{pub: pub, sec: sec, secPath: filepath.Join(dir, name+".secret")}
	if err := os.WriteFile(k.secPath, []byte(sec.Z85()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// allowKey writes k's public key into the allowed directory dir. The
// file is named in hex: a Z85 key may hold '/' (a path separator) or
// start with '.' (a name the directory authoriser skips, as it does the
// kubelet's ..data entries).
func allowKey(t *testing.T, dir string, k curveKeyFiles) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%x", k.pub[:4])), []byte(k.pub.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCurveStreamerDevice: a Streamer whose two bound sockets are CURVE
// servers with keys from files, each accepting only the declared peers:
// messages flow from the producer to the worker; an outsider with a
// self-made key, a client expecting another server key, and raw garbage
// and huge lengths after a CURVE greeting are refused without disturbing
// the flow, and the refusals are counted in /metrics.
func TestCurveStreamerDevice(t *testing.T) {
	dir := t.TempDir()
	device := writeCurveKeys(t, dir, "device")
	producer, worker, outsider := writeCurveKeys(t, dir, "producer"), writeCurveKeys(t, dir, "worker"), writeCurveKeys(t, dir, "outsider")
	frontAllowed, backAllowed := filepath.Join(dir, "front-clients"), filepath.Join(dir, "back-clients")
	allowKey(t, frontAllowed, producer)
	allowKey(t, backAllowed, worker)
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	front, back := startDevice(t, "streamer", "PULL", "PUSH", func(c *zmqconfig.Config, args *[]string) {
		c.Sockets[0].Security = &zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: device.secPath, AllowedClientKeysDir: frontAllowed}
		c.Sockets[1].Security = &zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: device.secPath, AllowedClientKeysDir: backAllowed}
		*args = []string{"--listen", metrics}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := newSock(t, zmtp.PULL, zmtp.WithCurveClient(device.pub, worker.pub, worker.sec))
	connect(t, w, back)
	p := newSock(t, zmtp.PUSH, zmtp.WithCurveClient(device.pub, producer.pub, producer.sec))
	connect(t, p, front)
	flow := func(body string) {
		t.Helper()
		if err := p.Send(ctx, zmtp.NewMsgString(body)); err != nil {
			t.Fatal(err)
		}
		m, err := w.Recv(ctx)
		if err != nil || string(m[0]) != body {
			t.Fatalf("worker got %q, %v; want %q", m, err, body)
		}
	}
	flow("before")

	// An outsider with its own key, and one trusting another server key.
	intruder := newSock(t, zmtp.PUSH, zmtp.WithCurveClient(device.pub, outsider.pub, outsider.sec))
	connect(t, intruder, front)
	wrongServer := newSock(t, zmtp.PUSH, zmtp.WithCurveClient(outsider.pub, producer.pub, producer.sec))
	connect(t, wrongServer, front)
	// A subscriber-side outsider on the backend.
	thief := newSock(t, zmtp.PULL, zmtp.WithCurveClient(device.pub, outsider.pub, outsider.sec))
	connect(t, thief, back)
	// Raw garbage and a huge length after a CURVE greeting.
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10], greeting[11] = 0xFF, 0x7F, 3, 1
	copy(greeting[12:], zmtp.MechanismCurve)
	for _, tail := range [][]byte{
		[]byte("\xde\xad\xbe\xef garbage"),
		{0x06, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // command, LONG, 2^63-1 octets
		{0x04, 0x05, 'H', 'E', 'L', 'L', 'O'},                  // truncated HELLO
	} {
		nc, err := net.Dial("tcp", strings.TrimPrefix(front, "tcp://"))
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = nc.Write(append(append([]byte(nil), greeting...), tail...))
		// The device closes the connection (or the handshake deadline
		// would); read until it does.
		buf := make([]byte, 512)
		for {
			if _, err := nc.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("device kept a hostile connection open")
				}
				break
			}
		}
		nc.Close()
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		got := scrape(t, "http://"+metrics)
		if got[`zmq_device_auth_failures_total{side="frontend"}`] >= 2 && got[`zmq_device_auth_failures_total{side="backend"}`] >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("auth failures not counted: frontend %v, backend %v", got[`zmq_device_auth_failures_total{side="frontend"}`], got[`zmq_device_auth_failures_total{side="backend"}`])
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		flow(fmt.Sprint("after-", i))
	}
	if st := intruder.Stats(); st.Peers != 0 || st.Handshakes != 0 {
		t.Fatalf("outsider connected: %+v", st)
	}
	if st := thief.Stats(); st.Peers != 0 || st.MsgsIn != 0 {
		t.Fatalf("backend outsider connected or received: %+v", st)
	}
}
