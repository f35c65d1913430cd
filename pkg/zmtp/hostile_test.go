package zmtp

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goodPeerStillWorks checks that after hostile input, a well-behaved PUSH
// peer can still deliver to the PULL socket under test (libzmq's
// test_bind_null_fuzzer idea).
func goodPeerStillWorks(t *testing.T, pull *Socket, ep string) {
	t.Helper()
	ctx := testCtx(t)
	push := newSock(t, PUSH)
	connect(t, push, ep)
	want := fmt.Sprint("good-", time.Now().UnixNano())
	if err := push.Send(ctx, NewMsgString(want)); err != nil {
		t.Fatal(err)
	}
	for {
		m := mustRecv(t, ctx, pull)
		if string(m[0]) == want {
			return
		}
	}
}

// hostileCases are byte streams a hostile or broken peer sends after a
// valid greeting + READY as PUSH. Each must make the socket drop the
// connection without panicking or allocating the claimed size.
var hostileCases = []struct {
	name string
	data []byte
}{
	{"frame claiming 2^63 bytes", append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, 1<<63)...)},
	{"frame claiming 2^64-1 bytes", append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, math.MaxUint64)...)},
	{"frame over max size", append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, 1<<40)...)},
	{"reserved flag bits", []byte{0x80, 1, 'x'}},
	{"command with MORE", []byte{flagCommand | flagMore, 1, 1}},
	{"command name length past body", appendFrame(nil, flagCommand, []byte{9, 'P', 'I', 'N', 'G'})},
	{"command name length zero", appendFrame(nil, flagCommand, []byte{0, 'x'})},
	{"empty command", appendFrame(nil, flagCommand, nil)},
	{"PING context too long", appendCommand(nil, cmdPing, make([]byte, 2+17))},
	{"PING too short", appendCommand(nil, cmdPing, []byte{1})},
	{"command inside multipart", append(appendFrame(nil, flagMore, []byte("a")), appendCommand(nil, cmdPing, []byte{0, 0})...)},
	{"READY after handshake", appendCommand(nil, cmdReady, readyData(PUSH, nil))},
	{"ERROR", appendCommand(nil, cmdError, errorData("go away"))},
	{"huge command", append([]byte{flagCommand | flagLong}, binary.BigEndian.AppendUint64(nil, 1<<30)...)},
}

func TestHostileFramesAfterHandshake(t *testing.T) {
	pull := newSock(t, PULL, WithMaxMsgSize(1<<20))
	ep := bind(t, pull)
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawPeer(t, ep, PUSH)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			r.sendHostile(t, tc.data)
			r.waitClosed(t)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if d := after.TotalAlloc - before.TotalAlloc; d > 8<<20 {
				t.Fatalf("allocated %d bytes for a hostile frame", d)
			}
			goodPeerStillWorks(t, pull, ep)
		})
	}
}

// TestHostileHandshake: garbage in place of READY, bad metadata, wrong
// socket type, wrong mechanism: the connection is refused, the socket
// keeps working.
func TestHostileHandshake(t *testing.T) {
	pull := newSock(t, PULL)
	ep := bind(t, pull)
	cases := []struct {
		name     string
		greeting []byte
		after    []byte
	}{
		{"message before READY", ourGreeting(), appendFrame(nil, 0, []byte("hello"))},
		{"bad property name length", ourGreeting(), appendCommand(nil, cmdReady, []byte{200, 'S'})},
		{"bad property value length", ourGreeting(), appendCommand(nil, cmdReady, append([]byte{1, 'x'}, 0xFF, 0xFF, 0xFF, 0xFF))},
		{"no socket type", ourGreeting(), appendCommand(nil, cmdReady, nil)},
		{"incompatible socket type", ourGreeting(), appendCommand(nil, cmdReady, readyData(PUB, nil))},
		{"unknown socket type", ourGreeting(), appendCommand(nil, cmdReady, appendProperty(nil, PropSocketType, []byte("BOGUS")))},
		{"PLAIN mechanism", appendGreeting(nil, Greeting{Major: 3, Minor: 1, Mechanism: "PLAIN"}), nil},
		{"ZMTP 2.0", appendGreeting(nil, Greeting{Major: 2, Minor: 0, Mechanism: "NULL"}), nil},
		{"ZMTP 1.0", []byte{0x01, 0x00}, nil},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), nil},
		{"garbage after greeting", ourGreeting(), []byte("\xde\xad\xbe\xef\x00\x01\x02\x03\x04")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawDial(t, ep)
			r.sendHostile(t, tc.greeting)
			if tc.after != nil {
				r.sendHostile(t, tc.after)
			}
			r.waitClosed(t)
			goodPeerStillWorks(t, pull, ep)
		})
	}
}

// TestSlowlorisGreeting: a client dribbling its greeting one octet at a
// time is cut off at the handshake timeout, and a good peer is served
// meanwhile.
func TestSlowlorisGreeting(t *testing.T) {
	pull := newSock(t, PULL, WithHandshakeTimeout(300*time.Millisecond))
	ep := bind(t, pull)
	r := rawDial(t, ep)
	g := ourGreeting()
	stopped := make(chan error, 1)
	go func() {
		for i := 0; i < len(g); i++ { // bounded: 64 octets, 50 ms apart
			if _, err := r.nc.Write(g[i : i+1]); err != nil {
				stopped <- err
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		stopped <- nil
	}()
	goodPeerStillWorks(t, pull, ep)
	r.waitClosed(t)
	<-stopped
	for pull.Stats().HandshakeFailures == 0 {
		time.Sleep(time.Millisecond)
	}
}

// TestMidFrameClose: peers that vanish in the middle of a greeting, a
// header or a body.
func TestMidFrameClose(t *testing.T) {
	pull := newSock(t, PULL)
	ep := bind(t, pull)
	cuts := [][]byte{
		ourGreeting()[:5],
		ourGreeting()[:40],
		{flagLong, 0, 0},
		appendFrame(nil, 0, make([]byte, 200))[:100],
		appendFrame(nil, flagMore, []byte("first")),
		appendFrame(nil, 0, make([]byte, 70000))[:30000],
	}
	for i, cut := range cuts {
		var r *raw
		if i < 2 {
			r = rawDial(t, ep)
		} else {
			r = rawPeer(t, ep, PUSH)
		}
		r.send(t, cut)
		r.nc.Close()
	}
	goodPeerStillWorks(t, pull, ep)
}

// TestLargeFrameWithoutLimitAllocatesOnlyWhatArrives: with the size limit
// disabled, a peer claiming 2^62 bytes and sending little costs at most
// one growth chunk.
func TestLargeFrameWithoutLimitAllocatesOnlyWhatArrives(t *testing.T) {
	pull := newSock(t, PULL, WithMaxMsgSize(-1))
	ep := bind(t, pull)
	r := rawPeer(t, ep, PUSH)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	r.send(t, append(append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, 1<<62)...), make([]byte, 1000)...))
	time.Sleep(50 * time.Millisecond)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Fatalf("allocated %d bytes", d)
	}
	r.nc.Close()
	goodPeerStillWorks(t, pull, ep)
}

func openFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// settle waits (bounded) for goroutines and fds to return near baseline.
func settle(t *testing.T, g0, fd0 int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, fd := runtime.NumGoroutine(), openFDs(t)
		if g <= g0+5 && fd <= fd0+5 {
			t.Logf("goroutines %d (baseline %d), fds %d (baseline %d)", g, g0, fd, fd0)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines %d (baseline %d), fds %d (baseline %d)\n%s", g, g0, fd, fd0, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnectDisconnectCycles: 10,000 connect/disconnect cycles (bare TCP,
// partial greetings, full handshakes) against a bound socket leave
// goroutines and fds at baseline ±5 (acceptance 4).
func TestConnectDisconnectCycles(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	pull := newSock(t, PULL)
	ep := bind(t, pull)
	addr := strings.TrimPrefix(ep, "tcp://")
	goodPeerStillWorks(t, pull, ep)
	runtime.GC()
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)
	hello := append(ourGreeting(), appendCommand(nil, cmdReady, readyData(PUSH, nil))...)
	for i := 0; i < n; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		switch i % 3 {
		case 1:
			nc.Write(hello[:20])
		case 2:
			nc.Write(hello)
		}
		nc.Close()
	}
	settle(t, g0, fd0)
	goodPeerStillWorks(t, pull, ep)
}
