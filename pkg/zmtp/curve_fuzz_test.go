package zmtp

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Fuzz targets for the CURVE commands (RFC 26). Each target fixes the
// state a real connection would have at that point (keys, cookie,
// nonces) from one recorded handshake, then feeds the command under test:
// whatever the input, parsing returns an error or a value that satisfies
// the protocol's invariants, and never panics. Seeds are the recorded
// commands (testdata/fuzz/FuzzCurve* hold more, from libzmq-shaped
// inputs); mutations of them mostly fail authentication, which is the
// point: every path to a refusal is exercised.

// curveTranscript is one recorded CURVE handshake and the state each
// side held.
type curveTranscript struct {
	server, client                  curveKeys
	hello, welcome, initiate, ready []byte // command data (after the name)
	// Server state between WELCOME and INITIATE.
	clientShort CurvePublicKey
	helloNonce  uint64
	cookieNonce []byte
	cookies     *cookieKeys
	// Client state before READY and codecs after it.
	clientShortSecret *[32]byte
	clientKey         *[32]byte // precomputed (S', c')
	serverCodec       *curveCodec
	clientCodec       *curveCodec
}

// recordCurve runs a CURVE handshake between our client and server over a
// pipe and records the commands.
func recordCurve(t testing.TB) *curveTranscript {
	t.Helper()
	tr := &curveTranscript{server: newCurveKeys(t), client: newCurveKeys(t)}
	srvOpts := &curveOptions{role: curveRoleServer, public: tr.server.pub, secret: tr.server.sec}
	if err := srvOpts.init(realClock{}); err != nil {
		t.Fatal(err)
	}
	tr.cookies = srvOpts.cookies
	cliOpts := &curveOptions{role: curveRoleClient, public: tr.client.pub, secret: tr.client.sec, serverKey: tr.server.pub}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_ = a.SetDeadline(time.Now().Add(10 * time.Second))
	_ = b.SetDeadline(time.Now().Add(10 * time.Second))
	var fromClient, fromServer bytes.Buffer
	type result struct {
		c   frameCodec
		err error
	}
	done := make(chan result, 1)
	go func() {
		h := &handshakeIO{fr: &frameReader{r: bufio.NewReader(a)}, bw: bufio.NewWriter(io.MultiWriter(a, &fromServer))}
		_, c, err := (&curveServer{opts: srvOpts}).handshake(h, readyData(PULL, nil), func(Metadata) error { return nil })
		done <- result{c, err}
	}()
	h := &handshakeIO{fr: &frameReader{r: bufio.NewReader(b)}, bw: bufio.NewWriter(io.MultiWriter(b, &fromClient))}
	_, cc, err := (&curveClient{opts: cliOpts}).handshake(h, readyData(PUSH, nil), func(Metadata) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	tr.serverCodec, tr.clientCodec = r.c.(*curveCodec), cc.(*curveCodec)
	cmds := func(b []byte) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			_, body, n, err := parseFrame(b, -1)
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := parseCommand(body)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, cmd.Data)
			b = b[n:]
		}
		return out
	}
	c, s := cmds(fromClient.Bytes()), cmds(fromServer.Bytes())
	tr.hello, tr.initiate = c[0], c[1]
	tr.welcome, tr.ready = s[0], s[1]
	copy(tr.clientShort[:], tr.hello[2+helloPadding:])
	tr.helloNonce = helloNonce
	tr.cookieNonce = tr.initiate[:16]
	return tr
}

// FuzzCurveHello: HELLO as the server sees it.
func FuzzCurveHello(f *testing.F) {
	tr := recordCurve(f)
	f.Add(tr.hello)
	f.Add(tr.hello[:100])
	f.Fuzz(func(t *testing.T, data []byte) {
		hm, err := parseHello(data, &tr.server.sec)
		if err != nil {
			return
		}
		if len(data) != helloDataSize || !bytes.Equal(hm.clientShort[:], data[2+helloPadding:2+helloPadding+32]) {
			t.Fatalf("accepted a malformed HELLO of %d octets", len(data))
		}
	})
}

// FuzzCurveWelcome: WELCOME as the client sees it (after its HELLO).
func FuzzCurveWelcome(f *testing.F) {
	tr := recordCurve(f)
	// The client's short-term secret is gone after the handshake: record
	// a WELCOME for a fresh client short-term pair instead.
	cs := newCurveKeys(f)
	var out bytes.Buffer
	h := &handshakeIO{bw: bufio.NewWriter(&out)}
	srv := &curveServer{opts: &curveOptions{role: curveRoleServer, public: tr.server.pub, secret: tr.server.sec, cookies: tr.cookies}}
	if _, err := srv.welcome(h, &cs.pub); err != nil {
		f.Fatal(err)
	}
	_, body, _, err := parseFrame(out.Bytes(), -1)
	if err != nil {
		f.Fatal(err)
	}
	cmd, err := parseCommand(body)
	if err != nil {
		f.Fatal(err)
	}
	if _, _, err := parseWelcome(cmd.Data, (*[32]byte)(&tr.server.pub), (*[32]byte)(&cs.sec)); err != nil {
		f.Fatalf("recorded WELCOME does not open: %v", err)
	}
	f.Add(cmd.Data)
	f.Add(tr.welcome)
	f.Add(cmd.Data[:50])
	f.Fuzz(func(t *testing.T, data []byte) {
		serverShort, cookie, err := parseWelcome(data, (*[32]byte)(&tr.server.pub), (*[32]byte)(&cs.sec))
		if err != nil {
			return
		}
		if len(data) != welcomeDataSize || len(cookie) != cookieSize || serverShort == [32]byte{} {
			t.Fatalf("accepted a malformed WELCOME of %d octets", len(data))
		}
	})
}

// FuzzCurveInitiate: INITIATE as the server sees it after its WELCOME.
func FuzzCurveInitiate(f *testing.F) {
	tr := recordCurve(f)
	f.Add(tr.initiate)
	f.Add(tr.initiate[:initiateMinSize])
	f.Add(append(append([]byte(nil), tr.initiate...), 0xff))
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := parseInitiate(data, tr.cookieNonce, &tr.clientShort, tr.helloNonce, &tr.server.pub, tr.cookies)
		if err != nil {
			return
		}
		// Only the recorded client can pass: its key is vouched for.
		if im.client != tr.client.pub || im.nonce <= tr.helloNonce {
			t.Fatalf("accepted INITIATE for client %v nonce %d", im.client, im.nonce)
		}
	})
}

// FuzzCurveReady: READY as the client sees it.
func FuzzCurveReady(f *testing.F) {
	tr := recordCurve(f)
	key := tr.clientCodec.key
	f.Add(tr.ready)
	f.Add(tr.ready[:readyMinSize])
	f.Fuzz(func(t *testing.T, data []byte) {
		md, nonce, err := parseReady(data, key)
		if err != nil {
			return
		}
		if nonce == 0 || md == nil {
			t.Fatalf("accepted READY with nonce %d", nonce)
		}
	})
}

// FuzzCurveMessage: MESSAGE frames (outer flags and body) as either side
// sees them after the handshake; nonces must strictly increase.
func FuzzCurveMessage(f *testing.F) {
	tr := recordCurve(f)
	var seeds bytes.Buffer
	w := bufio.NewWriter(&seeds)
	for _, fr := range []struct {
		flags byte
		body  []byte
	}{{flagMore, []byte("key")}, {0, []byte("value")}, {flagCommand, append([]byte{4}, cmdPing+"\x00\x0a"...)}, {0, nil}} {
		if _, err := tr.clientCodec.writeFrame(w, fr.flags, fr.body); err != nil {
			f.Fatal(err)
		}
	}
	_ = w.Flush()
	b := seeds.Bytes()
	for len(b) > 0 {
		flags, body, n, err := parseFrame(b, -1)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(flags, body)
		b = b[n:]
	}
	base := *tr.serverCodec
	f.Fuzz(func(t *testing.T, flags byte, body []byte) {
		c := base // a fresh receiver state each run
		before := c.peerNonce
		fl, plain, err := c.open(flags, body, func(n int) []byte { return make([]byte, n) })
		if err != nil {
			if c.peerNonce != before {
				t.Fatal("a refused MESSAGE advanced the nonce")
			}
			return
		}
		if c.peerNonce <= before || len(plain) != len(body)-messageOverhead || fl&^(flagMore|flagCommand) != 0 {
			t.Fatalf("accepted MESSAGE: nonce %d->%d, %d of %d octets, flags %x", before, c.peerNonce, len(plain), len(body), fl)
		}
		// The same frame again is a replay.
		if _, _, err := c.open(flags, body, func(n int) []byte { return make([]byte, n) }); err == nil {
			t.Fatal("replayed MESSAGE accepted")
		}
	})
}

// FuzzCurveServerHandshake feeds an arbitrary command stream to a CURVE
// server after the greeting: it ends with an error or a handshake, never
// a panic or a hang (the input is finite).
func FuzzCurveServerHandshake(f *testing.F) {
	tr := recordCurve(f)
	f.Add(append(appendCommand(nil, cmdHello, tr.hello), appendCommand(nil, cmdInitiate, tr.initiate)...))
	f.Add(appendCommand(nil, cmdHello, tr.hello))
	f.Add(append(appendCommand(nil, cmdHello, tr.hello), appendCommand(nil, cmdHello, tr.hello)...))
	opts := &curveOptions{role: curveRoleServer, public: tr.server.pub, secret: tr.server.sec, cookies: tr.cookies,
		authorizer: CurveAllowList(tr.client.pub)}
	f.Fuzz(func(t *testing.T, stream []byte) {
		h := &handshakeIO{fr: &frameReader{r: bufio.NewReader(bytes.NewReader(stream))}, bw: bufio.NewWriter(io.Discard)}
		md, codec, err := (&curveServer{opts: opts}).handshake(h, readyData(PULL, nil), func(Metadata) error { return nil })
		if err == nil && (md == nil || codec == nil) {
			t.Fatal("handshake succeeded without metadata or codec")
		}
	})
}

// TestWriteCurveSeeds writes recorded CURVE commands to
// testdata/fuzz/FuzzCurve*/ when ZMTP_WRITE_CURVE_SEEDS=1 (they then run
// as regression inputs; being from another run's keys they exercise the
// refusal paths).
func TestWriteCurveSeeds(t *testing.T) {
	if os.Getenv("ZMTP_WRITE_CURVE_SEEDS") != "1" {
		t.Skip("set ZMTP_WRITE_CURVE_SEEDS=1 to rewrite the CURVE seed corpora")
	}
	tr := recordCurve(t)
	write := func(target, name, content string) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n"+content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	q := func(b []byte) string { return "[]byte(" + strconv.Quote(string(b)) + ")\n" }
	write("FuzzCurveHello", "recorded", q(tr.hello))
	write("FuzzCurveHello", "zero-box", q(append(append([]byte{1, 0}, make([]byte, helloPadding+32+8)...), make([]byte, 80)...)))
	write("FuzzCurveWelcome", "recorded", q(tr.welcome))
	write("FuzzCurveInitiate", "recorded", q(tr.initiate))
	write("FuzzCurveInitiate", "short", q(tr.initiate[:initiateMinSize-1]))
	write("FuzzCurveReady", "recorded", q(tr.ready))
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	_, _ = tr.clientCodec.writeFrame(w, flagMore, []byte("frame"))
	_ = w.Flush()
	_, body, _, _ := parseFrame(buf.Bytes(), -1)
	write("FuzzCurveMessage", "recorded", "byte('\\x00')\n"+q(body))
	write("FuzzCurveMessage", "huge-claim", "byte('\\x02')\n"+q([]byte("\x07MESSAGE\xff\xff\xff\xff\xff\xff\xff\xff")))
	write("FuzzCurveServerHandshake", "recorded", q(append(appendCommand(nil, cmdHello, tr.hello), appendCommand(nil, cmdInitiate, tr.initiate)...)))
	write("FuzzCurveServerHandshake", "huge-command", q(append([]byte{flagCommand | flagLong}, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)))
}
