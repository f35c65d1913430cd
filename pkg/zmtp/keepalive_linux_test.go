package zmtp

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// TestTCPKeepAlive checks that the keepalive settings reach the kernel on
// both the accepted and the dialed connection.
func TestTCPKeepAlive(t *testing.T) {
	ka := WithTCPKeepAlive(net.KeepAliveConfig{Enable: true, Idle: 42 * time.Second, Interval: 7 * time.Second, Count: 3})
	srv, err := NewSocket(PULL, ka)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ep, err := srv.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewSocket(PUSH, ka)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.Connect(ep); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Socket{srv, cli} {
		deadline := time.Now().Add(5 * time.Second)
		for len(s.Peers()) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		s.mu.Lock()
		var tc *net.TCPConn
		for c := range s.conns {
			tc, _ = c.nc.(*net.TCPConn)
		}
		s.mu.Unlock()
		if tc == nil {
			t.Fatalf("%s: no TCP connection", s.Type())
		}
		raw, err := tc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var on, idle, intvl, cnt int
		_ = raw.Control(func(fd uintptr) {
			on, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			idle, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
			intvl, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
			cnt, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
		})
		if on != 1 || idle != 42 || intvl != 7 || cnt != 3 {
			t.Errorf("%s: keepalive %d idle %d interval %d count %d; want 1 42 7 3", s.Type(), on, idle, intvl, cnt)
		}
	}
}
