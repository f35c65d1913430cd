package interop

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	czmq "github.com/pebbe/zmq4"
)

// rawFrame reads one raw frame (header included) from r.
func rawFrame(t *testing.T, r *bufio.Reader) []byte {
	t.Helper()
	hdr, err := r.Peek(2)
	if err != nil {
		t.Fatal(err)
	}
	var size uint64
	n := 2
	if hdr[0]&0x02 != 0 {
		b, err := r.Peek(9)
		if err != nil {
			t.Fatal(err)
		}
		size = binary.BigEndian.Uint64(b[1:9])
		n = 9
	} else {
		size = uint64(hdr[1])
	}
	out := make([]byte, n+int(size))
	if _, err := io.ReadFull(r, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// ourGreeting31 is a ZMTP 3.1 NULL greeting, written out by hand so this
// capture does not depend on the code under test.
func ourGreeting31() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xFF, 0x7F, 3, 1
	copy(g[12:], "NULL")
	return g
}

func readyCmd(socketType string) []byte {
	body := []byte{5}
	body = append(body, "READY"...)
	body = append(body, 11)
	body = append(body, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(socketType)))
	body = append(body, socketType...)
	return append([]byte{0x04, byte(len(body))}, body...)
}

// TestCaptureLibzmqSeeds talks raw ZMTP to libzmq and checks/records what
// libzmq sends: greeting, READY (with Identity), a PING (heartbeats on),
// short and long data frames, and a subscription. With
// ZMTP_WRITE_SEEDS=1 it (re)writes the fuzz seed corpora of pkg/zmtp.
func TestCaptureLibzmqSeeds(t *testing.T) {
	// libzmq ROUTER with an identity and heartbeats: greeting, READY, PING.
	router, _ := czmq.NewSocket(czmq.ROUTER)
	defer router.Close()
	_ = router.SetLinger(0)
	_ = router.SetIdentity("libzmq-router")
	_ = router.SetHeartbeatIvl(20 * time.Millisecond)
	_ = router.SetHeartbeatTtl(2 * time.Second)
	_ = router.Bind("tcp://127.0.0.1:*")
	ep, _ := router.GetLastEndpoint()
	nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	nc.Write(append(ourGreeting31(), readyCmd("DEALER")...))
	greeting := make([]byte, 64)
	if _, err := io.ReadFull(br, greeting); err != nil {
		t.Fatal(err)
	}
	ready := rawFrame(t, br)
	ping := rawFrame(t, br)
	if !strings.Contains(string(ready), "ROUTER") || !strings.Contains(string(ping), "PING") {
		t.Fatalf("unexpected READY %q / PING %q", ready, ping)
	}

	// libzmq PUSH: a multipart message with a short and a long frame.
	push, _ := czmq.NewSocket(czmq.PUSH)
	defer push.Close()
	_ = push.SetLinger(0)
	_ = push.Bind("tcp://127.0.0.1:*")
	ep, _ = push.GetLastEndpoint()
	nc2, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	_ = nc2.SetDeadline(time.Now().Add(10 * time.Second))
	br2 := bufio.NewReader(nc2)
	nc2.Write(append(ourGreeting31(), readyCmd("PULL")...))
	io.ReadFull(br2, make([]byte, 64))
	rawFrame(t, br2) // READY
	if _, err := push.SendMessage("key", strings.Repeat("v", 300)); err != nil {
		t.Fatal(err)
	}
	data := append(rawFrame(t, br2), rawFrame(t, br2)...)

	// libzmq SUB: its subscription message.
	sub, _ := czmq.NewSocket(czmq.SUB)
	defer sub.Close()
	_ = sub.SetLinger(0)
	_ = sub.SetSubscribe("topic.")
	_ = sub.Bind("tcp://127.0.0.1:*")
	ep, _ = sub.GetLastEndpoint()
	nc3, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc3.Close()
	_ = nc3.SetDeadline(time.Now().Add(10 * time.Second))
	br3 := bufio.NewReader(nc3)
	nc3.Write(append(ourGreeting31(), readyCmd("PUB")...))
	io.ReadFull(br3, make([]byte, 64))
	rawFrame(t, br3) // READY
	// libzmq attaches a new pipe (and sends it the cached subscriptions)
	// only when the application next calls into the socket.
	for i := 0; i < 20; i++ {
		_, _ = sub.RecvBytes(czmq.DONTWAIT)
		if br3.Buffered() > 0 {
			break
		}
		_ = nc3.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, _ = br3.Peek(1)
	}
	_ = nc3.SetDeadline(time.Now().Add(10 * time.Second))
	subscription := rawFrame(t, br3)
	// libzmq 4.3.4 sends a ZMTP 3.1 peer the SUBSCRIBE command (RFC 37),
	// not the 3.0-style %x01 message.
	if string(subscription[2:]) != "\tSUBSCRIBEtopic." {
		t.Fatalf("subscription %q", subscription)
	}
	t.Logf("libzmq greeting % x", greeting[:12])

	if os.Getenv("ZMTP_WRITE_SEEDS") != "1" {
		return
	}
	dir := filepath.Join("..", "..", "pkg", "zmtp", "testdata", "fuzz")
	write := func(target, name string, args ...string) {
		p := filepath.Join(dir, target, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		s := "go test fuzz v1\n" + strings.Join(args, "\n") + "\n"
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	q := func(b []byte) string { return fmt.Sprintf("[]byte(%q)", b) }
	write("FuzzGreeting", "libzmq-4.3.4-greeting", q(greeting))
	write("FuzzGreeting", "libzmq-4.3.4-greeting-truncated", q(greeting[:11]))
	write("FuzzReadFrame", "libzmq-4.3.4-ready", q(ready), "int64(-1)")
	write("FuzzReadFrame", "libzmq-4.3.4-ping", q(ping), "int64(1000)")
	write("FuzzReadFrame", "libzmq-4.3.4-multipart-short-long", q(data), "int64(-1)")
	write("FuzzReadFrame", "libzmq-4.3.4-multipart-over-limit", q(data), "int64(100)")
	write("FuzzReadFrame", "libzmq-4.3.4-subscription", q(subscription), "int64(-1)")
	write("FuzzReadFrame", "libzmq-4.3.4-stream", q(append(append(append([]byte{}, ready...), ping...), data...)), "int64(-1)")
	write("FuzzCommand", "libzmq-4.3.4-ready-router-identity", q(ready[2:]))
	write("FuzzCommand", "libzmq-4.3.4-ping-ttl", q(ping[2:]))
	write("FuzzCommand", "libzmq-4.3.4-subscribe", q(subscription[2:]))
}
