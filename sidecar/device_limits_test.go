package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// bigMsg is one octet over the default 64 MiB limit (DefaultMaxMsgSize),
// the size a user measured vanishing through a Streamer.
const bigMsg = 64<<20 + 1

// TestStreamerOversizeMessage: with the default limit, a message over it
// is refused by the device, counted in
// zmq_device_oversize_disconnects_total, and the producer's next message
// still gets through; with the socket option maxMsgSize raised in the
// configuration the operator mounts, the same message passes intact.
func TestStreamerOversizeMessage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit *int64
	}{{"default limit", nil}, {"maxMsgSize raised", ptrTo[int64](128 << 20)}} {
		t.Run(tc.name, func(t *testing.T) {
			metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			front, back := startDevice(t, "streamer", "PULL", "PUSH", func(c *zmqconfig.Config, args *[]string) {
				for i := range c.Sockets {
					c.Sockets[i].Options.MaxMsgSize = tc.limit
				}
				*args = []string{"--listen", metrics}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			worker := newSock(t, zmtp.PULL, zmtp.WithMaxMsgSize(-1))
			connect(t, worker, back)
			push := newSock(t, zmtp.PUSH, zmtp.WithReconnectInterval(10*time.Millisecond, 100*time.Millisecond))
			connect(t, push, front)

			body := make([]byte, bigMsg)
			body[0], body[len(body)-1] = 'a', 'z'
			if err := push.Send(ctx, zmtp.Msg{body}); err != nil {
				t.Fatal(err)
			}
			if tc.limit == nil {
				// A message sent right behind the refused one may fit in
				// the dead connection's kernel buffers and die with it
				// (ZMTP has no acknowledgements); send it once the
				// producer has reconnected.
				for push.Stats().Handshakes < 2 || push.Stats().Peers != 1 {
					if ctx.Err() != nil {
						t.Fatalf("the producer did not reconnect after the oversize message: %+v", push.Stats())
					}
					time.Sleep(time.Millisecond)
				}
			}
			if err := push.Send(ctx, zmtp.NewMsgString("after")); err != nil {
				t.Fatal(err)
			}
			m, err := worker.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.limit != nil {
				if m.Size() != bigMsg || m[0][0] != 'a' || m[0][bigMsg-1] != 'z' {
					t.Fatalf("got %d octets; want the %d-octet message intact", m.Size(), bigMsg)
				}
				if m, err = worker.Recv(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if string(m[0]) != "after" {
				t.Fatalf("got a %d-octet message; want \"after\"", m.Size())
			}
			want := 1.0
			if tc.limit != nil {
				want = 0
			}
			got := scrape(t, "http://"+metrics)[`zmq_device_oversize_disconnects_total{side="frontend"}`]
			if got != want {
				t.Fatalf("zmq_device_oversize_disconnects_total{side=\"frontend\"} = %v; want %v", got, want)
			}
		})
	}
}

// TestOversizeLoggedOncePerPeer: the warning names the peer and the limit,
// once per peer host whatever its port, and only for oversize messages.
func TestOversizeLoggedOncePerPeer(t *testing.T) {
	var buf bytes.Buffer
	o := newOversizeLog(slog.New(slog.NewTextHandler(&buf, nil)), "frontend", 1024)
	tooLarge := fmt.Errorf("zmtp: protocol error in traffic: %w", zmtp.ErrFrameTooLarge)
	o.observe("10.0.0.7:40001", tooLarge)
	o.observe("10.0.0.7:40002", tooLarge) // the same peer, reconnected
	o.observe("10.0.0.8:40001", io.EOF)   // an ordinary disconnect
	o.observe("10.0.0.8:40003", nil)
	o.observe("[fd00::9]:5000", tooLarge)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines; want 2:\n%s", len(lines), buf.String())
	}
	for i, peer := range []string{"peer=10.0.0.7", "peer=fd00::9"} {
		if !strings.Contains(lines[i], peer) || !strings.Contains(lines[i], "maxMsgSize=1024") || !strings.Contains(lines[i], "side=frontend") {
			t.Errorf("line %d = %q; want %s, maxMsgSize=1024 and side=frontend", i, lines[i], peer)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
