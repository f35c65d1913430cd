// Package benchlib measures PUSH->PULL and PUB->SUB throughput over
// loopback TCP for pkg/zmtp, libzmq (through github.com/pebbe/zmq4, cgo) and
// github.com/go-zeromq/zmq4, with one sender and one receiver each.
package benchlib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	gozmq "github.com/go-zeromq/zmq4"
	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// Case is one measurement.
type Case struct {
	Impl    string // "ours", "libzmq", "gozmq4"
	Pattern string // "PUSH->PULL", "PUB->SUB"
	Size    int    // message size in bytes
	Count   int    // messages sent
	// Mechanism is "NULL" (or empty) or "CURVE" (RFC 26; ours and libzmq
	// only): the receiver is the CURVE server, the sender the client.
	Mechanism string
}

// curve reports whether c runs over CURVE.
func (c Case) curve() bool { return c.Mechanism == zmtp.MechanismCurve }

// curveKeys are the long-term keys of a CURVE benchmark run.
type curveKeys struct {
	serverPub, clientPub zmtp.CurvePublicKey
	serverSec, clientSec zmtp.CurveSecretKey
}

func newCurveKeys() (curveKeys, error) {
	var k curveKeys
	var err1, err2 error
	k.serverPub, k.serverSec, err1 = zmtp.GenerateCurveKeyPair()
	k.clientPub, k.clientSec, err2 = zmtp.GenerateCurveKeyPair()
	return k, errors.Join(err1, err2)
}

// Result is a measured Case.
type Result struct {
	Case
	Received int
	Elapsed  time.Duration
}

// MsgsPerSec is the receive rate.
func (r Result) MsgsPerSec() float64 { return float64(r.Received) / r.Elapsed.Seconds() }

// MBPerSec is the payload rate in MB/s (10^6 bytes).
func (r Result) MBPerSec() float64 { return r.MsgsPerSec() * float64(r.Size) / 1e6 }

// idle ends a receive loop when nothing arrives for this long (PUB/SUB may
// drop); it is excluded from the elapsed time.
const idle = 2 * time.Second

// Run measures one case.
func Run(c Case) (Result, error) {
	switch c.Impl {
	case "ours":
		return runOurs(c)
	case "libzmq":
		return runLibzmq(c)
	case "gozmq4":
		if c.curve() {
			return Result{}, errors.New("go-zeromq/zmq4 has no CURVE")
		}
		return runGozmq(c)
	}
	return Result{}, fmt.Errorf("unknown impl %q", c.Impl)
}

func types(c Case) (snd, rcv zmtp.SocketType) {
	if c.Pattern == "PUB->SUB" {
		return zmtp.PUB, zmtp.SUB
	}
	return zmtp.PUSH, zmtp.PULL
}

// hwm: PUSH/PULL keep the default (blocking, lossless); PUB/SUB get
// unbounded queues in every implementation so the numbers measure
// throughput, not drops.
func hwm(c Case) int {
	if c.Pattern == "PUB->SUB" {
		return 0
	}
	return 1000
}

// recvLoop counts messages until count arrive or the stream goes idle and
// returns the count and the time of the last message.
type recvFn func(timeout time.Duration) error

func measure(c Case, send func(payload []byte) error, recv recvFn) (Result, error) {
	payload := make([]byte, c.Size)
	res := Result{Case: c}
	done := make(chan error, 1)
	var last time.Time
	start := time.Now()
	go func() {
		n := 0
		for n < c.Count {
			if err := recv(idle); err != nil {
				if errors.Is(err, errIdle) {
					// The stream went idle: the last message came about
					// one idle period ago.
					last = time.Now().Add(-idle)
					break
				}
				done <- err
				return
			}
			n++
		}
		if n == c.Count {
			last = time.Now()
		}
		res.Received = n
		done <- nil
	}()
	for i := 0; i < c.Count; i++ {
		if err := send(payload); err != nil {
			return res, fmt.Errorf("send %d: %w", i, err)
		}
	}
	if err := <-done; err != nil {
		return res, err
	}
	res.Elapsed = last.Sub(start)
	return res, nil
}

var errIdle = errors.New("idle")

// waitReady sends probe messages until the receiver gets one, so the
// measurement starts with the connection (and subscription) in place.
func waitReady(send func([]byte) error, recv recvFn) error {
	for i := 0; i < 500; i++ {
		if err := send([]byte("warmup")); err != nil {
			return err
		}
		if err := recv(10 * time.Millisecond); err == nil {
			// Drain any further warm-up messages.
			for recv(50*time.Millisecond) == nil {
			}
			return nil
		}
	}
	return errors.New("receiver never got a warm-up message")
}

func runOurs(c Case) (Result, error) {
	st, rt := types(c)
	h := hwm(c)
	sndOpts := []zmtp.Option{zmtp.WithSendHWM(h), zmtp.WithLinger(0)}
	rcvOpts := []zmtp.Option{zmtp.WithRecvHWM(h)}
	if c.curve() {
		k, err := newCurveKeys()
		if err != nil {
			return Result{}, err
		}
		sndOpts = append(sndOpts, zmtp.WithCurveClient(k.serverPub, k.clientPub, k.clientSec))
		rcvOpts = append(rcvOpts, zmtp.WithCurveServer(k.serverSec))
	}
	snd, err := zmtp.NewSocket(st, sndOpts...)
	if err != nil {
		return Result{}, err
	}
	defer snd.Close()
	rcv, err := zmtp.NewSocket(rt, rcvOpts...)
	if err != nil {
		return Result{}, err
	}
	defer rcv.Close()
	if rt == zmtp.SUB {
		_ = rcv.Subscribe(nil)
	}
	ep, err := rcv.Bind("tcp://127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	if err := snd.Connect(ep); err != nil {
		return Result{}, err
	}
	ctx := context.Background()
	send := func(p []byte) error { return snd.Send(ctx, zmtp.Msg{p}) }
	recv := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := rcv.Recv(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return errIdle
		}
		return err
	}
	// Recv without a deadline on the hot path: a timer per message would
	// measure the timer, not the socket.
	fast := func(timeout time.Duration) error {
		if timeout == idle {
			// Hot loop: block, with the socket closed by a watchdog if
			// the stream stalls.
			_, err := rcv.Recv(ctx)
			if errors.Is(err, zmtp.ErrClosed) {
				return errIdle
			}
			return err
		}
		return recv(timeout)
	}
	if err := waitReady(send, recv); err != nil {
		return Result{}, err
	}
	stop := watchdog(func() { rcv.Close() })
	defer stop()
	return measure(c, send, fast)
}

// watchdog closes the receiver if the whole run exceeds a generous bound,
// so a lossy run ends instead of hanging.
func watchdog(f func()) (stop func()) {
	t := time.AfterFunc(60*time.Second, f)
	return func() { t.Stop() }
}

func runLibzmq(c Case) (Result, error) {
	st, rt := czmq.PUSH, czmq.PULL
	if c.Pattern == "PUB->SUB" {
		st, rt = czmq.PUB, czmq.SUB
	}
	h := hwm(c)
	snd, err := czmq.NewSocket(st)
	if err != nil {
		return Result{}, err
	}
	defer snd.Close()
	rcv, err := czmq.NewSocket(rt)
	if err != nil {
		return Result{}, err
	}
	defer rcv.Close()
	_ = snd.SetLinger(0)
	_ = rcv.SetLinger(0)
	_ = snd.SetSndhwm(h)
	_ = rcv.SetRcvhwm(h)
	if rt == czmq.SUB {
		_ = rcv.SetSubscribe("")
	}
	if c.curve() {
		if !czmq.HasCurve() {
			return Result{}, errors.New(`libzmq has no CURVE (zmq_has("curve") is false)`)
		}
		k, err := newCurveKeys()
		if err != nil {
			return Result{}, err
		}
		if err := errors.Join(rcv.ServerAuthCurve("bench", k.serverSec.Z85()),
			snd.ClientAuthCurve(k.serverPub.String(), k.clientPub.String(), k.clientSec.Z85())); err != nil {
			return Result{}, err
		}
	}
	if err := rcv.Bind("tcp://127.0.0.1:*"); err != nil {
		return Result{}, err
	}
	ep, _ := rcv.GetLastEndpoint()
	if err := snd.Connect(ep); err != nil {
		return Result{}, err
	}
	send := func(p []byte) error { _, err := snd.SendBytes(p, 0); return err }
	cur := time.Duration(-2)
	recv := func(timeout time.Duration) error {
		if timeout != cur {
			_ = rcv.SetRcvtimeo(timeout)
			cur = timeout
		}
		_, err := rcv.RecvBytes(0)
		if err != nil && czmq.AsErrno(err) == czmq.Errno(11) {
			return errIdle
		}
		return err
	}
	if err := waitReady(send, recv); err != nil {
		return Result{}, err
	}
	return measure(c, send, recv)
}

func runGozmq(c Case) (Result, error) {
	ctx := context.Background()
	var snd, rcv gozmq.Socket
	if c.Pattern == "PUB->SUB" {
		snd, rcv = gozmq.NewPub(ctx), gozmq.NewSub(ctx)
		_ = rcv.SetOption(gozmq.OptionSubscribe, "")
		_ = snd.SetOption(gozmq.OptionHWM, 0)
	} else {
		snd, rcv = gozmq.NewPush(ctx, gozmq.WithDialerMaxRetries(-1)), gozmq.NewPull(ctx)
	}
	defer snd.Close()
	if err := rcv.Listen("tcp://127.0.0.1:0"); err != nil {
		return Result{}, err
	}
	if err := snd.Dial("tcp://" + rcv.Addr().String()); err != nil {
		return Result{}, err
	}
	// zmq4's Recv cannot time out: feed a channel from one goroutine.
	msgs := make(chan error, 4096)
	go func() {
		for {
			_, err := rcv.Recv()
			msgs <- err
			if err != nil {
				return
			}
		}
	}()
	defer rcv.Close()
	send := func(p []byte) error { return snd.Send(gozmq.NewMsg(p)) }
	recv := func(timeout time.Duration) error {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case err := <-msgs:
			if err == io.EOF {
				return errIdle
			}
			return err
		case <-t.C:
			return errIdle
		}
	}
	if err := waitReady(send, recv); err != nil {
		return Result{}, err
	}
	return measure(c, send, recv)
}
