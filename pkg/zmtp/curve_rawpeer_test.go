package zmtp

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// rawCurve is a hand-driven CURVE client for hostile and wire-level tests:
// it runs the real client handshake and records what it wrote.
type rawCurve struct {
	*raw
	sent  bytes.Buffer // every octet written after the greeting
	codec *curveCodec
}

// curveGreeting is a CURVE client's greeting.
func curveGreeting(server bool) []byte {
	return appendGreeting(nil, Greeting{Major: VersionMajor, Minor: VersionMinor, Mechanism: MechanismCurve, AsServer: server})
}

// rawCurveDial connects and exchanges CURVE greetings.
func rawCurveDial(t testing.TB, ep string) *rawCurve {
	t.Helper()
	rc := &rawCurve{raw: rawDial(t, ep)}
	rc.send(t, curveGreeting(false))
	g, err := readGreeting(rc.br)
	if err != nil {
		t.Fatal(err)
	}
	if g.Mechanism != MechanismCurve {
		t.Fatalf("server mechanism %q", g.Mechanism)
	}
	return rc
}

// handshakeIO returns a handshakeIO that records what it writes.
func (rc *rawCurve) handshakeIO() *handshakeIO {
	return &handshakeIO{fr: &frameReader{r: rc.br}, bw: bufio.NewWriter(io.MultiWriter(rc.nc, &rc.sent))}
}

// rawCurvePeer completes a CURVE handshake as a typ client with keys,
// trusting server.
func rawCurvePeer(t testing.TB, ep string, server CurvePublicKey, keys curveKeys, typ SocketType) *rawCurve {
	t.Helper()
	rc := rawCurveDial(t, ep)
	cli := &curveClient{opts: &curveOptions{role: curveRoleClient, public: keys.pub, secret: keys.sec, serverKey: server}}
	_, codec, err := cli.handshake(rc.handshakeIO(), readyData(typ, nil), func(Metadata) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	rc.codec = codec.(*curveCodec)
	return rc
}

// sentCommands splits what the client wrote into frames.
func (rc *rawCurve) sentFrames(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	b := rc.sent.Bytes()
	for len(b) > 0 {
		_, _, n, err := parseFrame(b, -1)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), b[:n]...))
		b = b[n:]
	}
	return out
}

// boxed encodes m as MESSAGE frames with the connection's codec.
func (rc *rawCurve) boxed(t testing.TB, flags byte, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if _, err := rc.codec.writeFrame(w, flags, body); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	return buf.Bytes()
}
