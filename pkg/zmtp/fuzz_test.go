package zmtp

import (
	"bufio"
	"bytes"
	"testing"
)

// Fuzz targets for everything a peer controls. The seed corpora under
// testdata/fuzz/<Target> hold bytes captured from libzmq 4.3.4 (see
// test/interop TestCaptureLibzmqSeeds); `go test` runs them as regression
// tests. To fuzz, see doc.go.

// FuzzGreeting decodes arbitrary greetings.
func FuzzGreeting(f *testing.F) {
	f.Add(ourGreeting())
	f.Add(appendGreeting(nil, Greeting{Major: 3, Minor: 0, Mechanism: "PLAIN", AsServer: true}))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := readGreeting(bytes.NewReader(data))
		if err != nil {
			return
		}
		if g.Major != VersionMajor || len(g.Mechanism) > mechanismSize {
			t.Fatalf("accepted greeting %+v", g)
		}
		// Re-encoding what we decoded must decode to the same value.
		g2, err := parseGreeting(appendGreeting(nil, g))
		if err != nil || g2 != g {
			t.Fatalf("re-encode: %+v, %v; want %+v", g2, err, g)
		}
	})
}

// FuzzReadFrame decodes arbitrary frame streams with both decoders, which
// must agree, and never return a body over the limit.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(appendFrame(nil, flagMore, []byte("k")), 0, bytes.Repeat([]byte{1}, 300)), int64(-1))
	f.Add(appendCommand(nil, cmdPing, []byte{0, 10}), int64(1000))
	f.Add([]byte{flagLong, 0x80, 0, 0, 0, 0, 0, 0, 0}, int64(-1))
	f.Fuzz(func(t *testing.T, data []byte, limit int64) {
		if limit < -1 {
			limit = -1
		}
		fr := &frameReader{r: bufio.NewReaderSize(bytes.NewReader(data), 16)}
		rest := data
		for {
			flags, body, err := fr.readFrame(limit)
			pflags, pbody, n, perr := parseFrame(rest, limit)
			if err != nil {
				if perr == nil {
					t.Fatalf("readFrame failed (%v) where parseFrame succeeded", err)
				}
				return
			}
			if perr != nil {
				t.Fatalf("parseFrame failed (%v) where readFrame succeeded", perr)
			}
			if flags != pflags || !bytes.Equal(body, pbody) {
				t.Fatalf("decoders disagree")
			}
			if limit >= 0 && int64(len(body)) > limit {
				t.Fatalf("body of %d octets over limit %d", len(body), limit)
			}
			rest = rest[n:]
		}
	})
}

// FuzzCommand decodes arbitrary command bodies with every command parser.
func FuzzCommand(f *testing.F) {
	f.Add(append([]byte{5}, append([]byte(cmdReady), readyData(ROUTER, []byte("id"))...)...))
	f.Add(append([]byte{4}, append([]byte(cmdPing), 0, 10, 'c')...))
	f.Add(append([]byte{5}, append([]byte(cmdError), errorData("x")...)...))
	f.Fuzz(func(t *testing.T, body []byte) {
		cmd, err := parseCommand(body)
		if err != nil {
			return
		}
		if len(cmd.Name) == 0 || len(cmd.Name) > 255 || 1+len(cmd.Name)+len(cmd.Data) != len(body) {
			t.Fatalf("bad split %q/%d of %d octets", cmd.Name, len(cmd.Data), len(body))
		}
		if md, err := parseMetadata(cmd.Data); err == nil {
			// Re-encode and parse again: same properties.
			var re []byte
			for k, v := range md {
				re = appendProperty(re, k, []byte(v))
			}
			md2, err := parseMetadata(re)
			if err != nil || len(md2) != len(md) {
				t.Fatalf("metadata re-encode: %v %v", md2, err)
			}
		}
		if _, ctx, err := parsePing(cmd.Data); err == nil && len(ctx) > maxPingContext {
			t.Fatalf("PING context of %d octets accepted", len(ctx))
		}
		_, _ = parseError(cmd.Data)
	})
}
