package zmtp

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// raw is a hand-driven TCP peer for hostile and wire-level tests.
type raw struct {
	nc net.Conn
	br *bufio.Reader
}

func rawDial(t testing.TB, ep string) *raw {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &raw{nc: nc, br: bufio.NewReader(nc)}
}

// rawPeer connects and completes a ZMTP 3.1 NULL handshake as typ.
func rawPeer(t testing.TB, ep string, typ SocketType) *raw {
	t.Helper()
	r := rawDial(t, ep)
	r.send(t, ourGreeting())
	if _, err := readGreeting(r.br); err != nil {
		t.Fatal(err)
	}
	r.send(t, appendCommand(nil, cmdReady, readyData(typ, nil)))
	h := &handshakeIO{fr: &frameReader{r: r.br}}
	if _, err := readPeerReady(h); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *raw) send(t testing.TB, b []byte) {
	t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		t.Fatal(err)
	}
}

// sendHostile writes what should make the socket under test hang up, which
// it may do before the write ends (a frame header announcing too much is
// enough): a broken pipe or a reset then is the outcome sought, which the
// caller checks with waitClosed; any other write error fails the test.
func (r *raw) sendHostile(t testing.TB, b []byte) {
	t.Helper()
	if _, err := r.nc.Write(b); err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatal(err)
	}
}

// readFrame reads one frame from the socket under test.
func (r *raw) readFrame(t testing.TB) (byte, []byte) {
	t.Helper()
	fr := &frameReader{r: r.br}
	flags, body, err := fr.readFrame(-1)
	if err != nil {
		t.Fatal(err)
	}
	return flags, body
}

// waitClosed reads until the socket under test closes the connection.
func (r *raw) waitClosed(t testing.TB) {
	t.Helper()
	buf := make([]byte, 4096)
	for {
		if _, err := r.nc.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("peer did not close the connection")
			}
			return
		}
	}
}
