// Package blackhole makes loopback addresses that behave like the address
// of a deleted Kubernetes pod: connection attempts get no answer at all
// (SYNs are silently dropped), so a dialer waits for its own timeout. Tests
// use it to exercise connect timeouts without leaving loopback.
package blackhole

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"
)

// Listen returns a loopback host:port that drops SYNs, and a function that
// releases it. It is a listener with a zero backlog whose accept queue is
// filled and never drained: Linux drops SYNs for a full accept queue.
func Listen() (addr string, release func(), err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return "", nil, err
	}
	var held []net.Conn
	release = func() {
		for _, c := range held {
			c.Close()
		}
		syscall.Close(fd)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		release()
		return "", nil, err
	}
	if err := syscall.Listen(fd, 0); err != nil {
		release()
		return "", nil, err
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		release()
		return "", nil, err
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			return addr, release, nil // this SYN went unanswered: the queue is full
		}
		held = append(held, c)
	}
	release()
	return "", nil, errors.New("blackhole: the accept queue never filled")
}
