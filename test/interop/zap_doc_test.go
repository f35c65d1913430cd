package interop

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// docPython returns the first ```python block of docs/curve.md: the ZAP
// handler example for libzmq applications.
func docPython(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "curve.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "```python\n")
	if !ok {
		t.Fatal("docs/curve.md has no python block")
	}
	code, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("unterminated python block")
	}
	return code
}

// TestDocZAPHandler runs the pyzmq ZAP handler of docs/curve.md (libzmq
// with CURVE, through Debian's python3-zmq) with the files the operator
// mounts: a pkg/zmtp worker whose key is in the allowed directory gets
// the tasks; one with a self-made key is refused; a key added to the
// directory is accepted without a restart.
func TestDocZAPHandler(t *testing.T) {
	requireCurve(t)
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import zmq").Run(); err != nil {
		t.Skip("python3-zmq is not installed (hack/prereqs.sh test installs it)")
	}
	dir := t.TempDir()
	srvPub, srvSec, err := zmtp.GenerateCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	memberPub, memberSec, _ := zmtp.GenerateCurveKeyPair()
	laterPub, laterSec, _ := zmtp.GenerateCurveKeyPair()
	allowed := filepath.Join(dir, "allowed")
	if err := os.MkdirAll(filepath.Join(allowed, "..2026_11_30"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "secret-key"), srvSec.Z85())
	write(filepath.Join(allowed, "worker"), memberPub.String())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "tcp://" + ln.Addr().String()
	ln.Close()

	script := docPython(t) + "\nimport itertools\nfor i in itertools.count():\n    tasks.send(b'task %d' % i)\n"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", script)
	cmd.Env = append(os.Environ(),
		"ZMQ_TASKS_CURVE_ALLOWED_KEYS_DIR="+allowed,
		"ZMQ_TASKS_CURVE_SECRETKEY_FILE="+filepath.Join(dir, "secret-key"),
		"ZMQ_TASKS_ENDPOINTS="+ep)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	pull := func(pub zmtp.CurvePublicKey, sec zmtp.CurveSecretKey) *zmtp.Socket {
		s, err := zmtp.NewSocket(zmtp.PULL, zmtp.WithCurveClient(srvPub, pub, sec), zmtp.WithReconnectInterval(50*time.Millisecond, 200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if err := s.Connect(ep); err != nil {
			t.Fatal(err)
		}
		return s
	}
	recv := func(s *zmtp.Socket, d time.Duration) (zmtp.Msg, error) {
		rctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return s.Recv(rctx)
	}
	member := pull(memberPub, memberSec)
	if m, err := recv(member, 10*time.Second); err != nil || !strings.HasPrefix(string(m[0]), "task ") {
		t.Fatalf("allowed worker: %q, %v (python: %s)", m, err, stderr.String())
	}

	outsiderPub, outsiderSec, _ := zmtp.GenerateCurveKeyPair()
	outsider := pull(outsiderPub, outsiderSec)
	if m, err := recv(outsider, time.Second); err == nil {
		t.Fatalf("a self-made key received %q", m)
	}
	if outsider.Stats().AuthFailures == 0 {
		t.Fatal("the outsider's handshakes were not refused by the ZAP handler")
	}

	// A key added to the directory is accepted at its next handshake.
	later := pull(laterPub, laterSec)
	write(filepath.Join(allowed, "later"), laterPub.String())
	if m, err := recv(later, 10*time.Second); err != nil {
		t.Fatalf("worker allowed later: %q, %v", m, err)
	}
}
