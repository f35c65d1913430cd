package benchlib

// Max lossless rate: the highest paced rate at which a device delivers
// every message and keeps up. A producer sends at a fixed rate R for one
// step of a bounded number of messages, each tagged with its step, and a
// consumer counts the step's messages (both libzmq or both pkg/zmtp, as
// LosslessCase.Peers says); the step passes when all of them arrived and
// the last one arrived no later than 10% (plus 50 ms) after the schedule's
// end, so a device that queues without keeping up fails like one that
// drops. The producer's and the consumer's queues are as in RunDevice
// (unbounded for PUB/SUB) and the device keeps its default HWMs (1000), so
// whatever is lost is lost in the device: the Forwarder's drop policy is
// part of what is measured. A failed step is tried once more before it
// counts, so that one scheduling hiccup on a loaded machine does not end
// the search. The search doubles R from LosslessCase.Start until a step
// fails, then bisects between the last good and the first bad rate for a
// fixed number of steps.

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"
)

// LosslessCase is one max-lossless-rate search.
type LosslessCase struct {
	Proxy  string // "zmq-sidecar", "libzmq", "gozmq4"
	Device string // "forwarder" or "streamer"
	Size   int    // message size in bytes, at least 8 (step and sequence)
	// Start is the first rate tried (msgs/s); Max bounds the doubling.
	Start, Max float64
	// Bisect is the number of bisection steps after the doubling.
	Bisect int
	// StepTime is how long one step sends (its message count is the rate
	// times StepTime, at least MinStep and at most MaxStep).
	StepTime         time.Duration
	MinStep, MaxStep int
	// Timeout bounds the whole search; the proxy is killed when it passes.
	Timeout time.Duration
	// Peers is the implementation of the producer and the consumer:
	// PeersLibzmq ("" too) or PeersZMTP.
	Peers string
}

// LosslessResult is a finished search.
type LosslessResult struct {
	LosslessCase
	// Rate is the highest rate that passed (msgs/s), 0 if none did.
	Rate float64
	// Steps is how many steps ran.
	Steps int
	// Fail describes the last failed step: rate, messages that arrived,
	// lateness of the last one.
	Fail    string
	Problem string
}

// MaxLossless runs the search against one proxy process.
func (env DeviceEnv) MaxLossless(c LosslessCase) (res LosslessResult, err error) {
	res = LosslessResult{LosslessCase: c}
	if c.Size < 8 {
		return res, fmt.Errorf("size %d: at least 8 bytes needed", c.Size)
	}
	proxy, front, back, err := env.startProxy(DeviceCase{Proxy: c.Proxy, Device: c.Device, Size: c.Size, ProxyHWM: -1})
	if err != nil {
		return res, err
	}
	defer func() {
		if problem := proxy.stop(c.Proxy == "zmq-sidecar"); problem != "" && res.Problem == "" {
			res.Problem = problem
		}
	}()
	watchdog := time.AfterFunc(c.Timeout, func() { _ = proxy.cmd.Process.Kill() })
	defer watchdog.Stop()

	snd, rcv, err := openPeers(c.Peers, c.Device, front, back)
	if err != nil {
		return res, err
	}
	defer snd.close()
	defer rcv.close()
	if !warmUp(snd, rcv, c.Device, proxy.running) {
		res.Problem = "no message got through the proxy during 3s of warm-up"
		return res, nil
	}
	drain(rcv)

	// One consumer goroutine for the whole search: it counts the messages
	// of the current step and remembers when the last one arrived.
	var (
		step     atomic.Uint32
		got      atomic.Int64
		lastNano atomic.Int64
		stop     atomic.Bool
	)
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		for !stop.Load() {
			m, err := rcv.recv(50 * time.Millisecond)
			if err != nil || len(m) != c.Size {
				continue
			}
			if binary.BigEndian.Uint32(m) == step.Load() {
				got.Add(1)
				lastNano.Store(time.Now().UnixNano())
			}
		}
	}()
	defer func() { stop.Store(true); <-consumerDone }()

	payload := make([]byte, c.Size)
	// once sends one step at rate and reports whether it passed.
	once := func(rate float64) (bool, error) {
		n := int(rate * c.StepTime.Seconds())
		n = min(max(n, c.MinStep), c.MaxStep)
		res.Steps++
		id := uint32(res.Steps)
		got.Store(0)
		lastNano.Store(0)
		step.Store(id)
		binary.BigEndian.PutUint32(payload, id)
		start := time.Now()
		for i := 0; i < n; {
			due := int(rate * time.Since(start).Seconds())
			if due <= i {
				next := start.Add(time.Duration(float64(i+1) / rate * float64(time.Second)))
				time.Sleep(time.Until(next))
				continue
			}
			for ; i < min(due, n); i++ {
				binary.BigEndian.PutUint32(payload[4:], uint32(i))
				if err := snd.send(payload); err != nil {
					return false, fmt.Errorf("send at %.0f msgs/s: %w", rate, err)
				}
			}
		}
		schedule := time.Duration(float64(n) / rate * float64(time.Second))
		deadline := start.Add(schedule + schedule/10 + 50*time.Millisecond)
		// Wait for the rest, or until nothing arrived for 300 ms.
		for got.Load() < int64(n) && proxy.running() {
			last := time.Unix(0, lastNano.Load())
			if lastNano.Load() == 0 {
				last = start
			}
			if time.Since(maxTime(last, deadline)) > 300*time.Millisecond {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		lastAt := time.Unix(0, lastNano.Load())
		ok := got.Load() == int64(n) && !lastAt.After(deadline)
		if !ok {
			res.Fail = fmt.Sprintf("%.0f/s: %d/%d, last %v past the deadline", rate, got.Load(), n, lastAt.Sub(deadline).Round(time.Millisecond))
		}
		// Let the tail of a failed step drain before the next one.
		if !ok {
			time.Sleep(300 * time.Millisecond)
		}
		return ok, nil
	}

	// run tries a rate, and once more if it failed; Fail keeps describing
	// the last rate that failed both times.
	run := func(rate float64) (bool, error) {
		before := res.Fail
		ok, err := once(rate)
		if err == nil && !ok && proxy.running() {
			ok, err = once(rate)
		}
		if ok {
			res.Fail = before
		}
		return ok, err
	}
	good, bad := 0.0, 0.0
	for rate := c.Start; rate <= c.Max; rate *= 2 {
		ok, err := run(rate)
		if err != nil || !proxy.running() {
			res.Problem = fmt.Sprint("stalled: ", err)
			res.Rate = good
			return res, nil
		}
		if !ok {
			bad = rate
			break
		}
		good = rate
	}
	if bad == 0 {
		res.Rate = good
		return res, nil
	}
	lo, hi := good, bad
	for i := 0; i < c.Bisect; i++ {
		mid := (lo + hi) / 2
		ok, err := run(mid)
		if err != nil || !proxy.running() {
			res.Problem = fmt.Sprint("stalled: ", err)
			break
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	res.Rate = lo
	return res, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
