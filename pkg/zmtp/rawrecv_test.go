package zmtp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"
)

// rawTestMsgs returns messages of every shape the raw path handles
// differently: single and multipart, empty frames, frames at and over
// slabMaxFrame (queued as Msg values), and a multipart message larger
// than a chunk.
func rawTestMsgs() []Msg {
	big := bytes.Repeat([]byte("B"), slabMaxFrame+1)
	edge := bytes.Repeat([]byte("e"), slabMaxFrame)
	var huge Msg
	for i := 0; i < 20; i++ {
		huge = append(huge, bytes.Repeat([]byte{byte('h' + i%3)}, slabMaxFrame))
	}
	var out []Msg
	for i := 0; i < 3000; i++ { // several chunks' worth
		switch i % 10 {
		case 0:
			out = append(out, Msg{[]byte(fmt.Sprintf("a-%d", i)), nil, []byte("tail")})
		case 1:
			out = append(out, Msg{[]byte(fmt.Sprintf("b-%d", i)), big})
		case 2:
			out = append(out, Msg{nil})
		case 3:
			out = append(out, Msg{[]byte(fmt.Sprintf("a-%d", i)), edge})
		case 4:
			if i%100 == 4 {
				out = append(out, append(Msg{[]byte(fmt.Sprintf("a-%d", i))}, huge...))
				continue
			}
			fallthrough
		default:
			out = append(out, Msg{[]byte(fmt.Sprintf("a-%04d-0123456789", i))})
		}
	}
	return out
}

// peerWire frames msgs as a peer would send them, with a PING command
// between some messages and, for some small frames, the 8-octet size that
// RFC 23 allows for any frame.
func peerWire(msgs []Msg) []byte {
	var b []byte
	for i, m := range msgs {
		if i%7 == 3 {
			b = appendCommand(b, cmdPing, []byte{0, 0, 'x'})
		}
		for j, f := range m {
			var fl byte
			if j < len(m)-1 {
				fl = flagMore
			}
			if i%11 == 5 && len(f) < 256 {
				b = append(b, fl|flagLong)
				b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
				b = append(b, f...)
				continue
			}
			b = appendFrame(b, fl, f)
		}
	}
	return b
}

func keepPrefixes(msgs []Msg, prefixes ...string) []Msg {
	var out []Msg
	for _, m := range msgs {
		for _, p := range prefixes {
			if bytes.HasPrefix(m[0], []byte(p)) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// keepAll is an XSUB's filter subscribed to every message.
func keepAll() rawIncomer {
	p := &xsubPattern{}
	p.subs.add(nil)
	return p
}

func sameMsg(a, b Msg) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestXSUBRawReceive: an XSUB's connection queues raw, and what Recv
// returns is exactly what the peer sent, filtered by the XSUB's
// subscriptions, whether the stream arrives in one piece (whole messages
// buffered: the fast path) or dribbled (frames split across reads: the
// frame-by-frame path), with commands between messages.
func TestXSUBRawReceive(t *testing.T) {
	msgs := rawTestMsgs()
	wire := peerWire(msgs)
	// Dribbled, a prefix of the same stream: a few hundred messages, one
	// over a chunk among them.
	dribbled := msgs[:400]
	dribbleWire := peerWire(dribbled)
	for _, tc := range []struct {
		name, prefix string
		dribble      bool
	}{
		{"whole, everything", "", false},
		{"whole, prefix a", "a", false},
		{"dribbled, everything", "", true},
		{"dribbled, prefix a", "a", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			xsub := newSock(t, XSUB, WithRecvHWM(0))
			if err := xsub.Send(ctx, Msg{append([]byte{1}, tc.prefix...)}); err != nil {
				t.Fatal(err)
			}
			peer := rawPeer(t, bind(t, xsub), PUB)
			waitPeers(t, xsub, 1)
			for _, c := range xsub.connList() {
				if c.inRaw == nil {
					t.Fatal("the XSUB's plain connection does not queue raw")
				}
			}
			sent := msgs
			if tc.dribble {
				sent = dribbled
			}
			go func() {
				if !tc.dribble {
					_, _ = peer.nc.Write(wire)
					return
				}
				for i, step := 0, 1; i < len(dribbleWire); i, step = i+step, step%13+1 {
					if _, err := peer.nc.Write(dribbleWire[i:min(len(dribbleWire), i+step)]); err != nil {
						return
					}
					if i%4096 < 13 {
						time.Sleep(time.Millisecond) // let the reader run dry now and then
					}
				}
			}()
			want := keepPrefixes(sent, tc.prefix)
			for i, w := range want {
				got := mustRecv(t, ctx, xsub)
				if !sameMsg(got, w) {
					t.Fatalf("message %d of %d: got %d frames %q..., want %d frames %q...", i, len(want), len(got), head(got), len(w), head(w))
				}
			}
			if st := xsub.Stats(); st.MsgsIn != uint64(len(want)) {
				t.Fatalf("Stats.MsgsIn = %d, want %d", st.MsgsIn, len(want))
			}
		})
	}
}

func head(m Msg) string {
	if len(m) == 0 {
		return ""
	}
	return string(m[0][:min(len(m[0]), 16)])
}

// connList returns s's connections (test helper).
func (s *Socket) connList() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*conn
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// TestForwardRawPath: a Forwarder (XSUB to XPUB, no hooks) moves messages
// as raw octets, and every subscriber gets exactly the messages it
// subscribed to, in order: over a plain connection (a packed queue that
// references the spans) and over CURVE (a Msg queue, built from them).
func TestForwardRawPath(t *testing.T) {
	msgs := rawTestMsgs()
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("curve=%v", secure), func(t *testing.T) {
			ctx := testCtx(t)
			var xpubOpts []Option
			subOpts := func() []Option { return nil }
			if secure {
				srv := newCurveKeys(t)
				xpubOpts = append(xpubOpts, curveServerOpt(srv))
				subOpts = func() []Option { return []Option{curveClientOpt(srv.pub, newCurveKeys(t))} }
			}
			xsub := newSock(t, XSUB, WithRecvHWM(0))
			xpub := newSock(t, XPUB, append(xpubOpts, WithSendHWM(0))...)
			if _, ok := newMover(xsub, xpub, ForwardHooks{}).(*rawMover); !ok {
				t.Fatal("XSUB to XPUB without hooks does not take the raw path")
			}
			if _, ok := newMover(xsub, xpub, ForwardHooks{Sent: func(Msg) {}}).(*rawMover); ok {
				t.Fatal("a hook must take the Msg path")
			}
			fctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- Proxy(fctx, xsub, xpub) }()
			t.Cleanup(func() { stop(); <-done })

			all := newSock(t, SUB, append(subOpts(), WithRecvHWM(0))...)
			// some: a sparse choice of small messages and large ones, so
			// that its queue takes spans apart from their neighbours.
			some := newSock(t, SUB, append(subOpts(), WithRecvHWM(0))...)
			ep := bind(t, xpub)
			connect(t, all, ep)
			connect(t, some, ep)
			_ = all.Subscribe([]byte(""))
			_ = some.Subscribe([]byte("a-1"))
			_ = some.Subscribe([]byte("b"))
			pub := newSock(t, PUB, WithSendHWM(0))
			connect(t, pub, bind(t, xsub))
			// Subscriptions reach the publisher through the Forwarder.
			waitSubs(t, pub, 3)
			for _, m := range msgs {
				if err := pub.Send(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			for _, sub := range []struct {
				s    *Socket
				want []Msg
			}{{all, msgs}, {some, keepPrefixes(msgs, "a-1", "b")}} {
				for i, w := range sub.want {
					got := mustRecv(t, ctx, sub.s)
					if !sameMsg(got, w) {
						t.Fatalf("message %d of %d: got %d frames %q..., want %d frames %q...", i, len(sub.want), len(got), head(got), len(w), head(w))
					}
				}
			}
		})
	}
}

// waitSubs waits until a PUB's peers hold n distinct subscriptions.
func waitSubs(t testing.TB, s *Socket, n int) {
	t.Helper()
	ctx := testCtx(t)
	for s.pat.(interface{ subscriptionCount() int }).subscriptionCount() < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%v: subscriptions did not arrive", s.Type())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// rawSpans reads wire (whole messages) into b as a reader would, in
// publishes of at most per messages, and returns the spans a raw queue
// gives for them.
func rawSpans(t *testing.T, b *rawBuilder, wire []byte, per int) []rawMsg {
	t.Helper()
	keep := keepAll()
	br := bufio.NewReaderSize(bytes.NewReader(wire), len(wire)+16)
	_, _ = br.Peek(len(wire))
	var rq rawQueue
	for br.Buffered() > 0 {
		if n, _ := b.readBuffered(br, -1, keep, per); n == 0 {
			t.Fatalf("readBuffered stopped with %d octets left", br.Buffered())
		}
		rq.push(b.take())
		b.reset()
	}
	var spans []rawMsg
	for {
		r, ok := rq.pop()
		if !ok {
			return spans
		}
		spans = append(spans, r)
	}
}

// written returns what a connection's writer puts on the wire for q.
func written(t *testing.T, q packedQueue) []byte {
	t.Helper()
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if _, err := q.writeTo(w); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	return out.Bytes()
}

// TestPushSpanRuns: spans that follow each other in a chunk, across
// publishes, make one segment that the send queue references; spans of
// two chunks are never joined; a run shorter than spanRunMin is copied,
// so that the send queue holds no receive chunk for it; the raw queue
// gives the spans back in order after compacting its segments.
func TestPushSpanRuns(t *testing.T) {
	var msgs []Msg
	for i := 0; i < 4000; i++ { // about 3 chunks
		msgs = append(msgs, Msg{[]byte(fmt.Sprintf("m%05d", i)), []byte("0123456789abcdef")})
	}
	wire := wireOf(t, msgs)
	var b rawBuilder
	spans := rawSpans(t, &b, wire, 10) // 400 publishes: the raw queue compacts
	if len(spans) != len(msgs) {
		t.Fatalf("%d spans, want %d", len(spans), len(msgs))
	}
	for i, r := range spans {
		if !sameMsg(spanMsg(r.span), msgs[i]) || r.size != msgs[i].Size() || string(r.topic) != string(msgs[i][0]) {
			t.Fatalf("span %d is %q, want %q", i, spanMsg(r.span), msgs[i])
		}
	}

	var q packedQueue
	for _, r := range spans {
		q.pushSpan(r.span, r.size)
	}
	taken := q.take()
	if got := written(t, taken); !bytes.Equal(got, wire) || taken.msgs != len(msgs) || taken.bytes != uint64(4000*22) {
		t.Fatalf("wrote %d octets (%d messages, %d body octets), want %d (%d, %d)", len(got), taken.msgs, taken.bytes, len(wire), len(msgs), 4000*22)
	}
	if n := len(taken.segs); n < 2 || n > 4 {
		t.Fatalf("%d segments for 3 chunks' worth of spans, want one per chunk", n)
	}
	for _, seg := range taken.segs {
		if len(seg) < spanRunMin {
			continue // the last chunk's tail may be short
		}
		inSpan := false
		for _, r := range spans {
			if &seg[0] == &r.span[0] {
				inSpan = true
				break
			}
		}
		if !inSpan {
			t.Fatal("a long run was copied, not referenced")
		}
	}

	// Every tenth span: each run is one short message, copied.
	var q2 packedQueue
	var want []byte
	for i := 0; i < len(spans); i += 10 {
		q2.pushSpan(spans[i].span, spans[i].size)
		want = append(want, spans[i].span...)
	}
	taken = q2.take()
	for _, seg := range taken.segs {
		for _, r := range spans {
			if &seg[0] == &r.span[0] {
				t.Fatal("a run shorter than spanRunMin is queued by reference")
			}
		}
	}
	if got := written(t, taken); !bytes.Equal(got, want) {
		t.Fatalf("sparse spans: wrote %d octets, want %d", len(got), len(want))
	}
	if len(taken.segs) > 2 {
		t.Fatalf("sparse spans: %d segments for %d octets copied, want them in one or two", len(taken.segs), len(want))
	}

	// Two publishers whose messages alternate, as a fair queue takes them:
	// every run is one message from the other's chunk, and the copies
	// make a segment per chunk of q's, not one per message.
	var b2 rawBuilder
	other := rawSpans(t, &b2, wire, 10)
	var q3 packedQueue
	want = want[:0]
	for i := 0; i < 1000; i++ {
		for _, r := range []rawMsg{spans[i], other[i]} {
			q3.pushSpan(r.span, r.size)
			want = append(want, r.span...)
		}
	}
	taken = q3.take()
	if got := written(t, taken); !bytes.Equal(got, want) {
		t.Fatalf("alternating spans: wrote %d octets, want %d", len(got), len(want))
	}
	if max := len(want)/packChunk + 2; len(taken.segs) > max {
		t.Fatalf("alternating spans: %d segments for %d octets, want at most %d", len(taken.segs), len(want), max)
	}
}

// TestRawReadBufferedRefuses: the raw fast path takes only whole messages
// of valid data frames within maxMsgSize, and consumes nothing of a
// message it does not take, so that the frame-by-frame path reads (and
// refuses) it; no record it queues starts with rawMarker.
func TestRawReadBufferedRefuses(t *testing.T) {
	good := appendFrame(nil, 0, []byte("ok"))
	long := append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, 3)...)
	long = append(long, "abc"...)
	for _, tc := range []struct {
		name   string
		next   []byte
		maxMsg int64
		takes  bool
	}{
		{"a data frame", appendFrame(nil, 0, []byte("x")), -1, true},
		{"a small frame with the long size", long, -1, true},
		{"reserved flag bits", []byte{0x08, 1, 'x'}, -1, false},
		{"the marker octet", []byte{rawMarker, 1, 'x'}, -1, false},
		{"a command", appendCommand(nil, cmdPing, []byte{0, 0}), -1, false},
		{"a command inside a message", append(appendFrame(nil, flagMore, []byte("a")), appendCommand(nil, cmdPing, []byte{0, 0})...), -1, false},
		{"MORE on a command", []byte{flagCommand | flagMore, 1, 'x'}, -1, false},
		{"a partial message", appendFrame(nil, flagMore, []byte("a")), -1, false},
		{"a partial frame", []byte{0, 5, 'a', 'b'}, -1, false},
		{"a frame over maxMsgSize", appendFrame(nil, 0, []byte("toolong")), 6, false},
		{"a message over maxMsgSize", append(appendFrame(nil, flagMore, []byte("abcd")), appendFrame(nil, 0, []byte("efg"))...), 6, false},
		{"a message at maxMsgSize", append(appendFrame(nil, flagMore, []byte("abc")), appendFrame(nil, 0, []byte("def"))...), 6, true},
		{"a frame over slabMaxFrame", appendFrame(nil, 0, make([]byte, slabMaxFrame+1)), -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := append(append([]byte(nil), good...), tc.next...)
			br := bufio.NewReaderSize(bytes.NewReader(wire), len(wire)+16)
			_, _ = br.Peek(len(wire))
			keep := keepAll()
			var b rawBuilder
			n, _ := b.readBuffered(br, tc.maxMsg, keep, 10)
			want, left := 1, len(tc.next)
			if tc.takes {
				want, left = 2, 0
			}
			if n != want || br.Buffered() != left {
				t.Fatalf("consumed %d messages leaving %d octets, want %d leaving %d", n, br.Buffered(), want, left)
			}
			segs, _, _ := b.take()
			for _, seg := range segs {
				if seg[0] == rawMarker {
					t.Fatal("a record from the peer starts with the marker")
				}
			}
		})
	}
}

// TestBadMessageDeliversWhatCameBefore: a message over ZMQ_MAXMSGSIZE,
// or a protocol error, disconnects the peer, and the messages it sent
// before, received whole, are delivered, as libzmq delivers them: on an
// XSUB (raw queue, the fast path or the frame-by-frame path meeting the
// bad message) as on a PULL.
func TestBadMessageDeliversWhatCameBefore(t *testing.T) {
	oversize := append(appendFrame(nil, flagMore, []byte("12345")), appendFrame(nil, 0, []byte("6789"))...)
	cmdInside := append(appendFrame(nil, flagMore, []byte("12")), appendCommand(nil, cmdPing, []byte{0, 0})...)
	for _, typ := range []SocketType{XSUB, PULL} {
		for _, tc := range []struct {
			name      string
			bad       []byte
			split     bool
			oversized uint64
		}{
			{"oversize", oversize, false, 1},
			{"oversize split", oversize, true, 1},
			{"command inside a message", cmdInside, false, 0},
			{"command inside a message split", cmdInside, true, 0},
		} {
			t.Run(fmt.Sprintf("%v/%s", typ, tc.name), func(t *testing.T) {
				ctx := testCtx(t)
				s := newSock(t, typ, WithMaxMsgSize(8+64*int64(1-tc.oversized)))
				peerType := PUSH
				if typ == XSUB {
					peerType = PUB
					if err := s.Send(ctx, Msg{{1}}); err != nil {
						t.Fatal(err)
					}
				}
				peer := rawPeer(t, bind(t, s), peerType)
				waitPeers(t, s, 1)
				wire := append(appendFrame(nil, 0, []byte("fits")), tc.bad...)
				if tc.split {
					peer.send(t, wire[:8])
					time.Sleep(20 * time.Millisecond)
					wire = wire[8:]
				}
				peer.sendHostile(t, wire)
				if m := mustRecv(t, ctx, s); string(m[0]) != "fits" {
					t.Fatalf("got %q, want the message before the oversize one", m)
				}
				peer.waitClosed(t)
				if st := s.Stats(); st.OversizeDisconnects != tc.oversized {
					t.Fatalf("OversizeDisconnects = %d, want %d", st.OversizeDisconnects, tc.oversized)
				}
			})
		}
	}
}
