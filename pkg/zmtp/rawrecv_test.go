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

func keepPrefix(msgs []Msg, prefix string) []Msg {
	var out []Msg
	for _, m := range msgs {
		if bytes.HasPrefix(m[0], []byte(prefix)) {
			out = append(out, m)
		}
	}
	return out
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
			go func() {
				if !tc.dribble {
					_, _ = peer.nc.Write(wire)
					return
				}
				for i, step := 0, 1; i < len(wire); i, step = i+step, step%13+1 {
					_, _ = peer.nc.Write(wire[i:min(len(wire), i+step)])
					if i%4096 < 13 {
						time.Sleep(time.Millisecond) // let the reader run dry now and then
					}
				}
			}()
			want := keepPrefix(msgs, tc.prefix)
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

// TestPushSpanRuns: spans that follow each other in a chunk make one
// segment, written as the same octets; a run shorter than packByRef is
// copied, so the send queue holds no reference to the receive chunk for it.
func TestPushSpanRuns(t *testing.T) {
	msgs := []Msg{{[]byte("one")}, {[]byte("two"), []byte("2")}, {[]byte("three")}, {[]byte("four")}}
	wire := wireOf(t, msgs)
	var b rawBuilder
	br := bufio.NewReader(bytes.NewReader(wire))
	_, _ = br.Peek(len(wire))
	keepAll := rawIncomer(&xsubPattern{})
	xs := keepAll.(*xsubPattern)
	xs.subs.add(nil)
	if n, _ := b.readBuffered(br, -1, keepAll, 100); n != len(msgs) {
		t.Fatalf("readBuffered took %d messages, want %d", n, len(msgs))
	}
	var rq rawQueue
	rq.push(b.take())
	spans := make([]rawMsg, 0, len(msgs))
	for {
		r, ok := rq.pop()
		if !ok {
			break
		}
		spans = append(spans, r)
	}

	var q packedQueue
	for _, r := range spans {
		q.pushSpan(r.span, r.size)
	}
	if len(q.segs) != 1 || len(q.segs[0]) != len(wire) {
		t.Fatalf("contiguous spans: %d segments, want 1 of %d octets", len(q.segs), len(wire))
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	taken := q.take()
	if _, err := taken.writeTo(w, &out); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	if !bytes.Equal(out.Bytes(), wire) || taken.msgs != len(msgs) {
		t.Fatalf("wrote %q (%d messages), want %q (%d)", out.Bytes(), taken.msgs, wire, len(msgs))
	}

	// Every other span: each run is one short message, copied.
	var q2 packedQueue
	q2.pushSpan(spans[0].span, spans[0].size)
	q2.pushSpan(spans[2].span, spans[2].size)
	taken = q2.take()
	for _, seg := range taken.segs {
		if &seg[0] == &spans[0].span[0] || &seg[0] == &spans[2].span[0] {
			t.Fatal("a run shorter than packByRef is queued by reference")
		}
	}
	out.Reset()
	w.Reset(&out)
	if _, err := taken.writeTo(w, &out); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	if want := append(append([]byte(nil), spans[0].span...), spans[2].span...); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("wrote %q, want %q", out.Bytes(), want)
	}
}
