package zmtp

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// blackhole returns a loopback host:port whose SYNs are silently dropped,
// like the address of a deleted pod: a listener with a zero backlog whose
// accept queue is filled and never drained (Linux drops SYNs for a full
// accept queue).
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for i := 0; ; i++ {
		if i == 16 {
			t.Fatal("could not fill the accept queue of the blackhole listener")
		}
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			return addr // this SYN was dropped: the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
}
