package zmtp

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"
)

// curveServerUnderTest is a CURVE PULL server with an allow-list, and the
// keys of a client it allows.
type curveServerUnderTest struct {
	pull   *Socket
	ep     string
	server curveKeys
	member curveKeys
}

func newCurveServerUnderTest(t *testing.T, opts ...Option) *curveServerUnderTest {
	t.Helper()
	u := &curveServerUnderTest{server: newCurveKeys(t), member: newCurveKeys(t)}
	opts = append([]Option{WithCurveServer(u.server.sec), WithCurveAuthorizer(CurveAllowList(u.member.pub)),
		WithMaxMsgSize(1 << 20), WithHandshakeTimeout(2 * time.Second)}, opts...)
	u.pull = newSock(t, PULL, opts...)
	u.ep = bind(t, u.pull)
	return u
}

// goodCurvePeerStillWorks checks that an allowed CURVE client still
// delivers to the server after hostile input.
func (u *curveServerUnderTest) goodCurvePeerStillWorks(t *testing.T) {
	t.Helper()
	ctx := testCtx(t)
	push := newSock(t, PUSH, WithCurveClient(u.server.pub, u.member.pub, u.member.sec))
	connect(t, push, u.ep)
	want := fmt.Sprint("good-", time.Now().UnixNano())
	if err := push.Send(ctx, NewMsgString(want)); err != nil {
		t.Fatal(err)
	}
	for {
		if m := mustRecv(t, ctx, u.pull); string(m[0]) == want {
			break
		}
	}
	push.Close()
}

// TestHostileCurveHandshake: broken, forged and replayed handshake
// commands close the connection (never a panic, never a hang past the
// handshake deadline), the good peer keeps working, and nothing leaks.
func TestHostileCurveHandshake(t *testing.T) {
	u := newCurveServerUnderTest(t)
	u.goodCurvePeerStillWorks(t)
	runtime.GC()
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)

	// A reference HELLO and INITIATE from a completed handshake.
	ref := rawCurvePeer(t, u.ep, u.server.pub, u.member, PUSH)
	frames := ref.sentFrames(t)
	if len(frames) != 2 {
		t.Fatalf("client wrote %d frames, want HELLO and INITIATE", len(frames))
	}
	hello, initiate := frames[0], frames[1]
	ref.nc.Close()

	intruder := newCurveKeys(t)
	cases := []struct {
		name string
		run  func(t *testing.T, rc *rawCurve)
		auth bool // counted in AuthFailures
	}{
		{"garbage after CURVE greeting", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, []byte("\xde\xad\xbe\xef\x00\x01\x02\x03\x04"))
		}, false},
		{"message frame in place of HELLO", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, appendFrame(nil, 0, make([]byte, 200)))
		}, false},
		{"command claiming 2^63 octets", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, append([]byte{flagCommand | flagLong}, binary.BigEndian.AppendUint64(nil, 1<<63)...))
		}, false},
		{"truncated HELLO box", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, appendCommand(nil, cmdHello, make([]byte, helloDataSize-30)))
		}, false},
		{"HELLO version 2", func(t *testing.T, rc *rawCurve) {
			h := append([]byte(nil), hello...)
			h[2+1+len(cmdHello)] = 2
			rc.sendHostile(t, h)
		}, false},
		{"HELLO padding not zero", func(t *testing.T, rc *rawCurve) {
			h := append([]byte(nil), hello...)
			h[2+1+len(cmdHello)+2+10] = 1
			rc.sendHostile(t, h)
			rc.noReply(t)
		}, false},
		{"HELLO boxed to another server key", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, appendCommand(nil, cmdHello, helloData(new([32]byte), new([32]byte), (*[32]byte)(&intruder.pub))))
			rc.noReply(t)
		}, true},
		{"HELLO with a flipped box octet", func(t *testing.T, rc *rawCurve) {
			h := append([]byte(nil), hello...)
			h[len(h)-1] ^= 1
			rc.sendHostile(t, h)
			rc.noReply(t)
		}, true},
		{"replayed HELLO on the same connection", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, hello)
			if _, body := rc.readFrame(t); len(body) == 0 {
				t.Fatal("no WELCOME")
			}
			rc.sendHostile(t, hello)
		}, false},
		{"replayed INITIATE (cookie of another connection)", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, hello)
			rc.readFrame(t) // a fresh WELCOME with a new cookie
			rc.sendHostile(t, initiate)
		}, true},
		{"truncated INITIATE", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, hello)
			rc.readFrame(t)
			rc.sendHostile(t, appendCommand(nil, cmdInitiate, make([]byte, 100)))
		}, false},
		{"INITIATE claiming 2^40 octets", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, hello)
			rc.readFrame(t)
			rc.sendHostile(t, append([]byte{flagCommand | flagLong}, binary.BigEndian.AppendUint64(nil, 1<<40)...))
		}, false},
		{"ERROR in place of INITIATE", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, hello)
			rc.readFrame(t)
			rc.sendHostile(t, appendCommand(nil, cmdError, errorData("no")))
		}, false},
		{"silent after WELCOME (handshake deadline)", func(t *testing.T, rc *rawCurve) {
			rc.sendHostile(t, hello)
			rc.readFrame(t)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := u.pull.Stats().AuthFailures
			rc := rawCurveDial(t, u.ep)
			tc.run(t, rc)
			rc.waitClosed(t)
			if tc.auth {
				waitStat(t, func() bool { return u.pull.Stats().AuthFailures > before })
			}
			u.goodCurvePeerStillWorks(t)
		})
	}
	settle(t, g0, fd0)
}

// TestHostileCurveTraffic: after a complete handshake, frames that are not
// well-formed, authentic, fresh MESSAGEs close the connection.
func TestHostileCurveTraffic(t *testing.T) {
	u := newCurveServerUnderTest(t)
	u.goodCurvePeerStillWorks(t)
	runtime.GC()
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)
	cases := []struct {
		name string
		data func(t *testing.T, rc *rawCurve) []byte
	}{
		{"plaintext frame", func(t *testing.T, rc *rawCurve) []byte { return appendFrame(nil, 0, []byte("hello")) }},
		{"plaintext PING", func(t *testing.T, rc *rawCurve) []byte { return appendCommand(nil, cmdPing, []byte{0, 0}) }},
		{"MESSAGE shorter than its box", func(t *testing.T, rc *rawCurve) []byte {
			return appendFrame(nil, 0, append([]byte{7}, cmdMessage+"\x00\x00\x00\x00\x00\x00\x00\x09short"...))
		}},
		{"truncated MESSAGE box", func(t *testing.T, rc *rawCurve) []byte {
			m := rc.boxed(t, 0, []byte("payload"))
			_, body, _, _ := parseFrame(m, -1)
			return appendFrame(nil, 0, body[:len(body)-3])
		}},
		{"MESSAGE with a flipped box octet", func(t *testing.T, rc *rawCurve) []byte {
			m := rc.boxed(t, 0, []byte("payload"))
			m[len(m)-1] ^= 0x40
			return m
		}},
		{"replayed MESSAGE", func(t *testing.T, rc *rawCurve) []byte {
			m := rc.boxed(t, 0, []byte("once"))
			return append(append([]byte(nil), m...), m...)
		}},
		{"reordered MESSAGEs", func(t *testing.T, rc *rawCurve) []byte {
			m1 := rc.boxed(t, 0, []byte("first"))
			m2 := rc.boxed(t, 0, []byte("second"))
			return append(append([]byte(nil), m2...), m1...)
		}},
		{"MESSAGE with outer MORE", func(t *testing.T, rc *rawCurve) []byte {
			m := rc.boxed(t, 0, []byte("x"))
			m[0] |= flagMore
			return m
		}},
		{"boxed command with MORE", func(t *testing.T, rc *rawCurve) []byte {
			return rc.boxed(t, flagCommand|flagMore, append([]byte{4}, cmdPing+"\x00\x00"...))
		}},
		{"boxed READY after handshake", func(t *testing.T, rc *rawCurve) []byte {
			return rc.boxed(t, flagCommand, appendCommand(nil, cmdReady, readyData(PUSH, nil))[2:])
		}},
		{"boxed message over max size", func(t *testing.T, rc *rawCurve) []byte {
			return rc.boxed(t, 0, make([]byte, 1<<20+1))
		}},
		{"MESSAGE claiming 2^40 octets", func(t *testing.T, rc *rawCurve) []byte {
			return append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, 1<<40)...)
		}},
		{"MESSAGE claiming 2^64-1 octets", func(t *testing.T, rc *rawCurve) []byte {
			return append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, math.MaxUint64)...)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := rawCurvePeer(t, u.ep, u.server.pub, u.member, PUSH)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			rc.sendHostile(t, tc.data(t, rc))
			rc.waitClosed(t)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
				t.Fatalf("allocated %d bytes for a hostile frame", d)
			}
			u.goodCurvePeerStillWorks(t)
		})
	}
	settle(t, g0, fd0)
}

// TestCurveCookieKeyRotation: a cookie sealed with the previous minute's
// key still opens; one two rotations old does not.
func TestCurveCookieKeyRotation(t *testing.T) {
	clk := &stepClock{t: time.Unix(1000, 0)}
	ck := newCookieKeys(clk)
	k0, err := ck.current()
	if err != nil {
		t.Fatal(err)
	}
	has := func(k [32]byte) bool {
		keys, n, err := ck.candidates()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if keys[i] == k {
				return true
			}
		}
		return false
	}
	clk.t = clk.t.Add(cookieKeyRotate + time.Second)
	k1, _ := ck.current()
	if k1 == k0 || !has(k0) || !has(k1) {
		t.Fatal("after one rotation both keys must be accepted")
	}
	clk.t = clk.t.Add(cookieKeyRotate + time.Second)
	if has(k0) || !has(k1) {
		t.Fatal("after two rotations the oldest key must be gone")
	}
	clk.t = clk.t.Add(10 * cookieKeyRotate)
	if has(k1) {
		t.Fatal("a long-idle server must not accept old cookies")
	}
}

// stepClock is a clock the test moves by hand.
type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time { return c.t }
func (c *stepClock) newTicker(time.Duration) (<-chan time.Time, func()) {
	return make(chan time.Time), func() {}
}

// noReply checks that the server closes the connection without sending
// anything (no WELCOME to a client that did not prove it knows our key).
func (rc *rawCurve) noReply(t *testing.T) {
	t.Helper()
	if b, err := rc.br.ReadByte(); err == nil {
		t.Fatalf("server answered (first octet %#x); want the connection closed", b)
	}
}
