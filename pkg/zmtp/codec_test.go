package zmtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		flags byte
		body  []byte
		hdr   int
	}{
		{"empty", 0, nil, 2},
		{"short", flagMore, []byte("hello"), 2},
		{"255 octets stays short", 0, bytes.Repeat([]byte{'x'}, 255), 2},
		{"256 octets goes long", flagMore, bytes.Repeat([]byte{'y'}, 256), 9},
		{"large", 0, bytes.Repeat([]byte{'z'}, 70000), 9},
		{"command", flagCommand, []byte("\x04PING\x00\x00"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := appendFrame(nil, tt.flags, tt.body)
			if len(wire) != tt.hdr+len(tt.body) {
				t.Fatalf("wire length %d; want %d", len(wire), tt.hdr+len(tt.body))
			}
			flags, body, n, err := parseFrame(wire, -1)
			if err != nil || n != len(wire) || flags&^flagLong != tt.flags || !bytes.Equal(body, tt.body) {
				t.Fatalf("parseFrame = %x, %d bytes, n=%d, %v; want %x, %d bytes", flags, len(body), n, err, tt.flags, len(tt.body))
			}
			// The same bytes through the buffered writer and reader.
			var buf bytes.Buffer
			w := bufio.NewWriter(&buf)
			if err := writeFrame(w, tt.flags, tt.body); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if !bytes.Equal(buf.Bytes(), wire) {
				t.Fatalf("writeFrame = %x; want %x", buf.Bytes()[:min(20, buf.Len())], wire[:min(20, len(wire))])
			}
			fr := &frameReader{r: bufio.NewReader(&buf)}
			flags, body, err = fr.readFrame(-1)
			if err != nil || flags&^flagLong != tt.flags || !bytes.Equal(body, tt.body) {
				t.Fatalf("readFrame = %x, %d bytes, %v", flags, len(body), err)
			}
			// Every strict prefix is incomplete, never an error.
			for i := 0; i < len(wire); i += 1 + len(wire)/50 {
				if _, _, _, err := parseFrame(wire[:i], -1); err != errNeedMore {
					t.Fatalf("prefix %d: %v; want errNeedMore", i, err)
				}
			}
		})
	}
}

func TestFrameLimits(t *testing.T) {
	wire := appendFrame(nil, 0, make([]byte, 1000))
	if _, _, _, err := parseFrame(wire, 999); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v; want ErrFrameTooLarge", err)
	}
	var pe *ProtocolError
	if _, _, _, err := parseFrame(wire, 999); !errors.As(err, &pe) || pe.Stage != "traffic" {
		t.Fatalf("got %v; want *ProtocolError", err)
	}
	fr := &frameReader{r: bufio.NewReader(bytes.NewReader(wire))}
	if _, _, err := fr.readFrame(999); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("readFrame: %v; want ErrFrameTooLarge", err)
	}
	fr = &frameReader{r: bufio.NewReader(bytes.NewReader(wire[:500]))}
	if _, _, err := fr.readFrame(-1); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: %v; want io.ErrUnexpectedEOF", err)
	}
}

func TestGreetingRoundTrip(t *testing.T) {
	tests := []struct {
		in   Greeting
		want Greeting
	}{
		{Greeting{3, 1, "NULL", false}, Greeting{3, 1, "NULL", false}},
		{Greeting{3, 0, "NULL", false}, Greeting{3, 0, "NULL", false}},
		{Greeting{3, 1, "CURVE", true}, Greeting{3, 1, "CURVE", true}},
		{Greeting{4, 2, "NULL", false}, Greeting{3, 1, "NULL", false}}, // a newer peer is spoken to as 3.1
	}
	for _, tt := range tests {
		wire := appendGreeting(nil, tt.in)
		got, err := readGreeting(bytes.NewReader(wire))
		if err != nil || got != tt.want {
			t.Errorf("%+v: got %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	bad := []struct {
		name string
		wire []byte
		want error
	}{
		{"HTTP", []byte("GET / HTTP/1.1\r\n"), ErrNotZMTP},
		{"TLS", []byte{0x16, 0x03, 0x01, 0x00}, ErrNotZMTP},
		{"ZMTP 1.0", []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x00}, ErrUnsupportedVersion},
		{"ZMTP 2.0", appendGreeting(nil, Greeting{Major: 2}), ErrUnsupportedVersion},
		{"short", ourGreeting()[:30], io.ErrUnexpectedEOF},
	}
	for _, tt := range bad {
		_, err := readGreeting(bytes.NewReader(tt.wire))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, err, tt.want)
		}
	}
}

// TestGreetingRejectedEarly: a non-ZMTP peer is identified from its first
// octet, without waiting for 64.
func TestGreetingRejectedEarly(t *testing.T) {
	r := &oneByteReader{data: []byte("H")}
	if _, err := readGreeting(r); !errors.Is(err, ErrNotZMTP) {
		t.Fatalf("got %v; want ErrNotZMTP after one octet", err)
	}
}

type oneByteReader struct{ data []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errors.New("blocked: the reader asked for more than the first octets")
	}
	p[0] = r.data[0]
	r.data = r.data[1:]
	return 1, nil
}

func TestCommandRoundTrip(t *testing.T) {
	ready := readyData(DEALER, []byte("me"))
	_, body, _, err := parseFrame(appendCommand(nil, cmdReady, ready), -1)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := parseCommand(body)
	if err != nil || cmd.Name != cmdReady {
		t.Fatalf("got %+v, %v", cmd, err)
	}
	md, err := parseMetadata(cmd.Data)
	if err != nil || md.Get("socket-type") != "DEALER" || md.Get("IDENTITY") != "me" {
		t.Fatalf("metadata %v, %v", md, err)
	}
	ttl, ctx, err := parsePing([]byte("\x00\x0aabc"))
	if err != nil || ttl != 10 || string(ctx) != "abc" {
		t.Fatalf("ping: %d %q %v", ttl, ctx, err)
	}
	reason, err := parseError(errorData("nope"))
	if err != nil || reason != "nope" {
		t.Fatalf("error: %q %v", reason, err)
	}
	if _, err := parseError([]byte{5, 'x'}); err == nil {
		t.Fatal("short ERROR accepted")
	}
}

func TestCompatibleIsSymmetric(t *testing.T) {
	all := []SocketType{PAIR, PUB, SUB, REQ, REP, DEALER, ROUTER, PULL, PUSH, XPUB, XSUB}
	n := 0
	for _, a := range all {
		for _, b := range all {
			if Compatible(a, b) != Compatible(b, a) {
				t.Errorf("Compatible(%v,%v) != Compatible(%v,%v)", a, b, b, a)
			}
			if Compatible(a, b) && a <= b {
				n++
			}
		}
		if got, err := ParseSocketType(strings.ToLower(a.String())); err != nil || got != a {
			t.Errorf("ParseSocketType(%v) = %v, %v", a, got, err)
		}
	}
	// RFC 37's 12 pairs.
	if n != 12 {
		t.Fatalf("%d compatible pairs; want 12", n)
	}
}
