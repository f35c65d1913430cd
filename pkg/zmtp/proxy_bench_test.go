package zmtp

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkProxy measures one sender, a Proxy device and one receiver over
// loopback TCP: the Streamer (PUSH->[PULL|PUSH]->PULL) and the Forwarder
// (PUB->[XSUB|XPUB]->SUB, unbounded queues so that nothing is dropped).
// Cross-implementation numbers are in test/interop (cmd/bench-devices).
func BenchmarkProxy(b *testing.B) {
	for _, dev := range []struct {
		name                  string
		snd, front, back, rcv SocketType
		hwm                   int
	}{{"Streamer", PUSH, PULL, PUSH, PULL, DefaultHWM}, {"Forwarder", PUB, XSUB, XPUB, SUB, 0}} {
		for _, size := range []int{16, 1024} {
			b.Run(fmt.Sprintf("%s/%dB", dev.name, size), func(b *testing.B) {
				ctx := context.Background()
				hwm := []Option{WithSendHWM(dev.hwm), WithRecvHWM(dev.hwm)}
				front := newSock(b, dev.front, hwm...)
				back := newSock(b, dev.back, hwm...)
				rcv := newSock(b, dev.rcv, WithRecvHWM(dev.hwm))
				snd := newSock(b, dev.snd, WithSendHWM(dev.hwm), WithLinger(0))
				_ = rcv.Subscribe(nil)
				connect(b, rcv, bind(b, back))
				connect(b, snd, bind(b, front))
				waitPeers(b, snd, 1)
				waitPeers(b, rcv, 1)
				pctx, stop := context.WithCancel(ctx)
				proxyDone := make(chan error, 1)
				go func() { proxyDone <- Proxy(pctx, front, back) }()
				defer func() { stop(); <-proxyDone }()
				for dev.snd == PUB && snd.Stats().Subscriptions == 0 {
					time.Sleep(time.Millisecond)
				}
				pump(ctx, b, snd, rcv, size)
			})
		}
	}
}
