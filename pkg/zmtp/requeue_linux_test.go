package zmtp

import (
	"context"
	"encoding/binary"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestPeerLeavesNothingQueuedIsLost: a PUSH (or DEALER) streams to two
// peers; one stops reading, so its send queue fills to the HWM, then it
// leaves. Every message that had not reached that connection's kernel
// buffers must go to the remaining peer: at most the octets the kernel
// held for the dead connection (bounded here with small SO_SNDBUF and
// SO_RCVBUF) and those the leaver had read into its own buffer but not
// decoded may be lost, and nothing is delivered twice. Before requeueing,
// the whole queue (about DefaultHWM messages) was lost.
func TestPeerLeavesNothingQueuedIsLost(t *testing.T) {
	for _, tc := range []struct{ sender, peer SocketType }{{PUSH, PULL}, {DEALER, DEALER}} {
		t.Run(tc.sender.String(), func(t *testing.T) {
			const (
				total   = 6000
				size    = 1024
				bufSize = 4096
			)
			ctx := testCtx(t)
			keep := newSock(t, tc.peer)
			keepEP := bind(t, keep)

			// The leaving peer: a raw listener with a small receive buffer
			// that completes the handshake, reads a little, stops reading.
			lc := net.ListenConfig{Control: setBuf(syscall.SO_RCVBUF, bufSize)}
			ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			leaverRead := make(chan map[uint64]bool, 1)
			leave := make(chan struct{})
			var rcvbuf, unread int
			go func() {
				seen := map[uint64]bool{}
				defer func() { leaverRead <- seen }()
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close() // with unread data: the sender sees a reset
				rcvbuf = sockBuf(nc, syscall.SO_RCVBUF)
				c, err := handshake(nc, tc.peer, nil, time.Now().Add(5*time.Second))
				if err != nil {
					return
				}
				for len(seen) < 100 {
					flags, body, err := c.fr.readFrame(-1)
					if err != nil {
						return
					}
					if flags&flagCommand == 0 && len(body) == size {
						seen[binary.BigEndian.Uint64(body)] = true
					}
				}
				// The leaver's read buffer may hold messages past the
				// 100th: they left the kernel, so the sender counted
				// them as delivered, and they die with the leaver.
				unread = c.br.Buffered()
				<-leave
			}()

			sndbuf := make(chan int, 1)
			dialer := &net.Dialer{Control: setBuf(syscall.SO_SNDBUF, bufSize)}
			sender := newSock(t, tc.sender, WithDialer(dialFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := dialer.DialContext(ctx, network, addr)
				if err == nil && addr == ln.Addr().String() {
					select {
					case sndbuf <- sockBuf(nc, syscall.SO_SNDBUF):
					default:
					}
				}
				return nc, err
			})))
			connect(t, sender, "tcp://"+ln.Addr().String())
			connect(t, sender, keepEP)
			waitPeers(t, sender, 2)

			got := map[uint64]int{}
			received := make(chan struct{})
			go func() {
				defer close(received)
				for len(got) < total {
					rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
					m, err := keep.Recv(rctx)
					cancel()
					if err != nil {
						return
					}
					got[binary.BigEndian.Uint64(m[len(m)-1])]++
				}
			}()
			for i := range uint64(total) {
				body := make([]byte, size)
				binary.BigEndian.PutUint64(body, i)
				if err := sender.Send(ctx, Msg{body}); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			// Every message is now either with a peer or queued; the
			// stalled peer holds a full queue. It leaves.
			close(leave)
			seen := <-leaverRead
			<-received

			wire := wireSize(Msg{make([]byte, size)})
			kernel := <-sndbuf + rcvbuf
			// Each region's first and last message may be partial.
			maxLost := kernel/wire + unread/wire + 4
			lost, dup := 0, 0
			for i := range uint64(total) {
				n := got[i]
				if seen[i] {
					n++
				}
				switch {
				case n == 0:
					lost++
				case n > 1:
					dup++
				}
			}
			st := sender.Stats()
			t.Logf("leaver read %d, survivor %d, lost %d (kernel buffers %d octets = %d messages, leaver's unread buffer %d octets = %d messages), requeued %d",
				len(seen), len(got), lost, kernel, kernel/wire, unread, unread/wire, st.Requeued)
			if dup > 0 {
				t.Errorf("%d messages delivered twice", dup)
			}
			if lost > maxLost {
				t.Errorf("%d messages lost; want at most %d (what the dead connection's kernel buffers and the leaver's unread buffer held)", lost, maxLost)
			}
			if st.Requeued == 0 {
				t.Errorf("Stats.Requeued = 0; the stalled peer's queue should have been requeued")
			}
		})
	}
}

// setBuf returns a socket Control hook setting a buffer size option.
func setBuf(opt, n int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, n) })
		if err != nil {
			return err
		}
		return serr
	}
}

// sockBuf reads a buffer size option (the kernel reports twice what was
// set: the other half is its bookkeeping).
func sockBuf(nc net.Conn, opt int) int {
	rc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return 0
	}
	v := 0
	_ = rc.Control(func(fd uintptr) { v, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt) })
	return v
}
