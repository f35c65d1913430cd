package zmtp

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// BenchmarkThroughput measures one sender and one receiver over loopback
// TCP. Cross-implementation numbers are in test/interop (cmd/bench).
func BenchmarkThroughput(b *testing.B) {
	for _, pat := range []struct {
		name     string
		snd, rcv SocketType
		hwm      int
	}{{"PUSH-PULL", PUSH, PULL, DefaultHWM}, {"PUB-SUB", PUB, SUB, 0}} {
		for _, size := range []int{16, 1024} {
			b.Run(fmt.Sprintf("%s/%dB", pat.name, size), func(b *testing.B) {
				ctx := context.Background()
				rcv := newSock(b, pat.rcv, WithRecvHWM(pat.hwm))
				snd := newSock(b, pat.snd, WithSendHWM(pat.hwm), WithLinger(0))
				_ = rcv.Subscribe(nil)
				connect(b, snd, bind(b, rcv))
				waitPeers(b, snd, 1)
				for pat.snd == PUB && snd.Stats().Subscriptions == 0 {
					time.Sleep(time.Millisecond)
				}
				pump(ctx, b, snd, rcv, size)
			})
		}
	}
}

// BenchmarkCurveThroughput is PUSH->PULL with the NULL and CURVE
// mechanisms side by side (cross-implementation numbers: test/interop
// cmd/bench-curve).
func BenchmarkCurveThroughput(b *testing.B) {
	srv, cli := newCurveKeys(b), newCurveKeys(b)
	for _, size := range []int{16, 1024, 64 << 10} {
		for _, mech := range []string{MechanismNull, MechanismCurve} {
			b.Run(fmt.Sprintf("%dB/%s", size, mech), func(b *testing.B) {
				var so, ro []Option
				if mech == MechanismCurve {
					so = []Option{curveClientOpt(srv.pub, cli)}
					ro = []Option{curveServerOpt(srv)}
				}
				ctx := context.Background()
				rcv := newSock(b, PULL, ro...)
				snd := newSock(b, PUSH, append(so, WithLinger(0))...)
				connect(b, snd, bind(b, rcv))
				waitPeers(b, snd, 1)
				pump(ctx, b, snd, rcv, size)
			})
		}
	}
}

// BenchmarkRoundTrip measures REQ->REP request/reply round trips over
// loopback TCP, one request in flight: the latency of a hand-off from a
// connection's reader to a waiting Recv, at each end.
func BenchmarkRoundTrip(b *testing.B) {
	ctx := testCtx(b)
	rep := newSock(b, REP)
	req := newSock(b, REQ, WithLinger(0))
	connect(b, req, bind(b, rep))
	waitPeers(b, req, 1)
	msg := Msg{make([]byte, 16)}
	done := make(chan error, 1)
	go func() {
		for {
			m, err := rep.Recv(ctx)
			if err == nil {
				err = rep.Send(ctx, m)
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := req.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if _, err := req.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = rep.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		b.Fatalf("the REP side stopped with %v, want ErrClosed from Close", err)
	}
}

// pump sends b.N messages of size bytes from snd while a goroutine receives
// them on rcv, timing only that exchange (b.SetBytes counts the payload).
func pump(ctx context.Context, b *testing.B, snd, rcv *Socket, size int) {
	b.Helper()
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < b.N; i++ {
			if _, err := rcv.Recv(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		if err := snd.Send(ctx, Msg{payload}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
