package zmtp

import (
	"encoding/binary"
	"time"
)

// startHeartbeat starts the connection's heartbeat goroutine once. It runs
// when we send heartbeats (Heartbeat.Interval, ZMTP 3.1 peers only) or when
// the peer announced a TTL in its PING (RFC 37 §"Connection Heartbeating").
func (c *conn) startHeartbeat() {
	c.hbOnce.Do(func() {
		c.s.mu.Lock()
		if c.s.closed {
			c.s.mu.Unlock()
			return
		}
		c.s.wg.Add(1)
		c.s.mu.Unlock()
		go c.heartbeatLoop()
	})
}

// pingCommand encodes a PING with our TTL in deciseconds and an empty
// context.
func pingCommand(ttl time.Duration) []byte {
	d := ttl / (100 * time.Millisecond)
	if d > 0xFFFF {
		d = 0xFFFF
	}
	var data [2]byte
	binary.BigEndian.PutUint16(data[:], uint16(d))
	return appendCommand(nil, cmdPing, data[:])
}

func (c *conn) heartbeatLoop() {
	defer c.s.wg.Done()
	hb := c.s.opts.heartbeat
	sending := hb.Interval > 0 && c.minor >= 1
	tick := hb.Interval
	if !sending {
		tick = time.Duration(c.peerTTL.Load()) / 4
	}
	if tick < 10*time.Millisecond {
		tick = 10 * time.Millisecond
	}
	ticks, stop := c.s.opts.clock.newTicker(tick)
	defer stop()
	lastSeen := c.s.opts.clock.now()
	for {
		select {
		case <-c.done:
			return
		case now := <-ticks:
			if c.traffic.Swap(false) {
				lastSeen = now
			}
			silent := now.Sub(lastSeen)
			// We ping every Interval and expect traffic within Timeout of
			// a PING.
			if sending && silent > hb.Interval+hb.Timeout {
				c.fail(ErrHeartbeatTimeout)
				return
			}
			// The peer told us its TTL: it will be gone if it says nothing
			// for that long.
			if ttl := time.Duration(c.peerTTL.Load()); ttl > 0 && silent > ttl {
				c.fail(ErrHeartbeatTimeout)
				return
			}
			if sending {
				c.enqueueRaw(pingCommand(hb.TTL))
			}
		}
	}
}

// clock abstracts time for the heartbeat logic so tests can drive it with
// a fake clock.
type clock interface {
	now() time.Time
	newTicker(d time.Duration) (ticks <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) now() time.Time { return time.Now() }

func (realClock) newTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}
