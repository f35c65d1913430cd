package benchlib

// The producer and the consumer of a device benchmark (RunDevice,
// MaxLossless), behind a small interface so that the same warm-up, drain,
// burst and paced schedule drive either implementation:
//
//   - "libzmq" (or ""): pebbe/zmq4 sockets, one cgo call per message;
//   - "zmtp":           this repository's pure-Go engine, pkg/zmtp.
//
// Both get the same settings: for the Forwarder a PUB producer and a SUB
// consumer subscribed to everything, both unbounded (HWM 0); for the
// Streamer PUSH and PULL with the default HWM (1000 in both); linger 0; a
// send gives up after sendTimeout, so that a stalled proxy turns into a
// send error instead of a hang.

import (
	"context"
	"errors"
	"fmt"
	"time"

	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// Peers kinds: which implementation the producer and the consumer use.
const (
	PeersLibzmq = "libzmq"
	PeersZMTP   = "zmtp"
)

// sendTimeout bounds one blocking send.
const sendTimeout = 5 * time.Second

// producer is the sending end, connected to the proxy's frontend.
type producer interface {
	// send sends one message, waiting up to sendTimeout for room. It
	// does not keep p.
	send(p []byte) error
	// trySend sends one message if it can without waiting.
	trySend(p []byte) error
	close() error
}

// consumer is the receiving end, connected to the proxy's backend.
type consumer interface {
	// recv returns the next message, waiting up to timeout for it.
	recv(timeout time.Duration) ([]byte, error)
	close() error
}

// openPeers opens the producer and the consumer of kind ("" is libzmq)
// for device and connects them to the proxy's front and back endpoints.
// The caller closes both.
func openPeers(kind, device, front, back string) (producer, consumer, error) {
	switch kind {
	case "", PeersLibzmq:
		return libzmqPeers(device, front, back)
	case PeersZMTP:
		return zmtpPeers(device, front, back)
	}
	return nil, nil, fmt.Errorf("unknown peers %q", kind)
}

// PeersSuffix is what a case name gets for kind, so that the rows and the
// metrics of different peers stay apart: "" for libzmq, else " (kind
// peers)".
func PeersSuffix(kind string) string {
	if kind == "" || kind == PeersLibzmq {
		return ""
	}
	return " (" + kind + " peers)"
}

// warmUp sends probes until one gets through the proxy (connections and,
// for the Forwarder, the subscription travelling upstream through it), for
// at most about 3 s or until running reports false.
func warmUp(snd producer, rcv consumer, device string, running func() bool) bool {
	probe := []byte("w")
	for i := 0; i < 300 && running(); i++ {
		// A PUSH with no peer yet cannot send; a PUB drops silently.
		if err := snd.trySend(probe); err != nil && device != "forwarder" {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if _, err := rcv.recv(10 * time.Millisecond); err == nil {
			return true
		}
	}
	return false
}

// drain receives until nothing arrived for 200 ms (the warm-up's stragglers).
func drain(rcv consumer) {
	for {
		if _, err := rcv.recv(200 * time.Millisecond); err != nil {
			return
		}
	}
}

// libzmq

type libzmqProducer struct{ s *czmq.Socket }

func (p libzmqProducer) send(b []byte) error {
	_, err := p.s.SendBytes(b, 0)
	return err
}

func (p libzmqProducer) trySend(b []byte) error {
	_, err := p.s.SendBytes(b, czmq.DONTWAIT)
	return err
}

func (p libzmqProducer) close() error { return p.s.Close() }

type libzmqConsumer struct {
	s       *czmq.Socket
	timeout time.Duration // the RCVTIMEO set, so it is set only on change
}

func (c *libzmqConsumer) recv(d time.Duration) ([]byte, error) {
	if d != c.timeout {
		if err := c.s.SetRcvtimeo(d); err != nil {
			return nil, err
		}
		c.timeout = d
	}
	return c.s.RecvBytes(0)
}

func (c *libzmqConsumer) close() error { return c.s.Close() }

// libzmqPeers: PUSH and PULL, or PUB and SUB (subscribed to everything,
// unbounded HWMs); linger 0; SNDTIMEO sendTimeout.
func libzmqPeers(device, front, back string) (producer, consumer, error) {
	st, rt := czmq.PUSH, czmq.PULL
	if device == "forwarder" {
		st, rt = czmq.PUB, czmq.SUB
	}
	snd, err := czmq.NewSocket(st)
	if err != nil {
		return nil, nil, err
	}
	rcv, err := czmq.NewSocket(rt)
	if err != nil {
		snd.Close()
		return nil, nil, err
	}
	_ = snd.SetLinger(0)
	_ = rcv.SetLinger(0)
	_ = snd.SetSndtimeo(sendTimeout)
	if rt == czmq.SUB {
		_ = snd.SetSndhwm(0)
		_ = rcv.SetRcvhwm(0)
		_ = rcv.SetSubscribe("")
	}
	if err = rcv.Connect(back); err == nil {
		err = snd.Connect(front)
	}
	if err != nil {
		snd.Close()
		rcv.Close()
		return nil, nil, err
	}
	return libzmqProducer{snd}, &libzmqConsumer{s: rcv, timeout: -2}, nil
}

// zmtp

// doneCtx is an ended context: a zmtp Send or Recv given it takes what it
// can without waiting (it tries before it looks at the context).
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// untilTimeout calls a blocking zmtp operation with a context that ends
// after timeout. Only the blocking case pays for a timer: callers first try
// with doneCtx, which takes what is queued without one.
func untilTimeout(timeout time.Duration, call func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return call(ctx)
}

type zmtpProducer struct{ s *zmtp.Socket }

func (p *zmtpProducer) send(b []byte) error {
	// The socket takes the frame: hand it a copy, as libzmq copies.
	m := zmtp.NewMsg(append([]byte(nil), b...))
	err := p.s.Send(doneCtx, m)
	if !errors.Is(err, context.Canceled) {
		return err // sent (PUB never waits), or the socket failed
	}
	// No room (PUSH at its HWM): wait for it, up to sendTimeout.
	return untilTimeout(sendTimeout, func(ctx context.Context) error { return p.s.Send(ctx, m) })
}

func (p *zmtpProducer) trySend(b []byte) error {
	return p.s.Send(doneCtx, zmtp.NewMsg(append([]byte(nil), b...)))
}

func (p *zmtpProducer) close() error { return p.s.Close() }

type zmtpConsumer struct{ s *zmtp.Socket }

func (c *zmtpConsumer) recv(timeout time.Duration) ([]byte, error) {
	// Take a queued message without touching the timer: the consumer's
	// hot path when it is the bottleneck.
	m, err := c.s.Recv(doneCtx)
	if errors.Is(err, context.Canceled) {
		err = untilTimeout(timeout, func(ctx context.Context) error {
			m, err = c.s.Recv(ctx)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return m[0], nil
}

func (c *zmtpConsumer) close() error { return c.s.Close() }

// zmtpPeers: PUSH and PULL with the engine's default HWMs (1000), or PUB
// with WithSendHWM(0) and SUB with WithRecvHWM(0) subscribed to
// everything; linger 0.
func zmtpPeers(device, front, back string) (producer, consumer, error) {
	st, rt := zmtp.PUSH, zmtp.PULL
	var sndOpts, rcvOpts []zmtp.Option
	if device == "forwarder" {
		st, rt = zmtp.PUB, zmtp.SUB
		sndOpts = append(sndOpts, zmtp.WithSendHWM(0))
		rcvOpts = append(rcvOpts, zmtp.WithRecvHWM(0))
	}
	sndOpts = append(sndOpts, zmtp.WithLinger(0))
	rcvOpts = append(rcvOpts, zmtp.WithLinger(0))
	snd, err := zmtp.NewSocket(st, sndOpts...)
	if err != nil {
		return nil, nil, err
	}
	rcv, err := zmtp.NewSocket(rt, rcvOpts...)
	if err != nil {
		snd.Close()
		return nil, nil, err
	}
	if rt == zmtp.SUB {
		err = rcv.Subscribe(nil)
	}
	if err == nil {
		err = rcv.Connect(back)
	}
	if err == nil {
		err = snd.Connect(front)
	}
	if err != nil {
		snd.Close()
		rcv.Close()
		return nil, nil, err
	}
	return &zmtpProducer{s: snd}, &zmtpConsumer{s: rcv}, nil
}
