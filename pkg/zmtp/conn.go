package zmtp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// connState is the life cycle of one ZMTP connection.
type connState int32

const (
	stateGreeting  connState = iota // exchanging the 64-octet greetings
	stateHandshake                  // mechanism commands (READY/ERROR)
	stateReady                      // traffic
	stateClosed
)

func (s connState) String() string {
	switch s {
	case stateGreeting:
		return "greeting"
	case stateHandshake:
		return "handshake"
	case stateReady:
		return "ready"
	default:
		return "closed"
	}
}

const (
	handshakeBufSize = 4 << 10
	readBufSize      = 64 << 10
	writeBufSize     = 64 << 10
	// maxBatch bounds how many messages a reader hands over at once.
	maxBatch = 256
)

// conn is one ZMTP connection attached to a Socket. It runs a reader and a
// writer goroutine. The writer drains a per-connection queue and flushes its
// bufio.Writer only when the queue is empty, so a burst of messages costs one
// write syscall; the reader hands complete messages to the socket in batches.
type conn struct {
	nc    net.Conn
	s     *Socket
	state atomic.Int32
	br    *bufio.Reader
	bw    *bufio.Writer
	fr    frameReader

	// Negotiated after the handshake; read-only afterwards.
	minor     byte
	peerType  SocketType
	peerMeta  Metadata
	routingID []byte // identity used by ROUTER
	remote    string
	// codec frames the traffic: plain (NULL) or boxed (CURVE).
	codec frameCodec

	// Send queue, guarded by outMu: messages (bounded by the HWM), as
	// values or packed (packed.go), and pre-encoded control frames
	// (commands, subscriptions; unbounded, written first).
	outMu  sync.Mutex
	out    []Msg
	packed packedQueue
	// pack is set (by distributor.add, before any message can be queued)
	// on a connection whose messages are queued packed.
	pack       bool
	ctl        [][]byte
	writerIdle bool
	drainCh    chan struct{}
	spare      []Msg // writer-owned
	wake       chan struct{}

	// Writer-owned record of what reached the kernel, so that messages a
	// departing peer never got can be requeued (see requeue.go).
	cw      countingWriter
	unacked unackedMsgs

	// Receive queue, guarded by the socket's fairQueue mutex: Msg values,
	// or raw records when inRaw is set (rawrecv.go; set before the reader
	// starts and never changed).
	inq       msgQueue
	inRaw     *rawQueue
	inWaiting bool
	inDropped bool // Disconnect discarded the queue; take no more
	space     chan struct{}

	// Subscriptions this peer asked for (PUB/XPUB side).
	subs subscriptions

	// Heartbeats.
	traffic atomic.Bool
	peerTTL atomic.Int64 // nanoseconds, from the peer's PING
	hbOnce  sync.Once

	// Graceful close (drain.go): peerDone is set when the peer shut its
	// sending side at a message boundary; shutWr (guarded by outMu) when
	// this side drains the connection.
	peerDone atomic.Bool
	shutWr   bool

	msgSlab   [][]byte
	done      chan struct{}
	closeOnce sync.Once
	err       error
}

// handshake runs the greeting and NULL handshake on nc for a socket of type
// local, within deadline. It returns a ready, not yet attached connection.
func handshake(nc net.Conn, local SocketType, identity []byte, deadline time.Time) (*conn, error) {
	return handshakeMech(nc, local, identity, deadline, nullMechanism{})
}

// handshakeMech runs the greeting and the handshake of mechanism mech.
func handshakeMech(nc net.Conn, local SocketType, identity []byte, deadline time.Time, mech mechanism) (*conn, error) {
	// Small buffers until the peer has proved it speaks ZMTP, so that many
	// half-open connections cost little memory; see upgradeBuffers.
	c := &conn{
		nc:     nc,
		br:     bufio.NewReaderSize(nc, handshakeBufSize),
		bw:     bufio.NewWriterSize(nc, handshakeBufSize),
		wake:   make(chan struct{}, 1),
		space:  make(chan struct{}, 1),
		done:   make(chan struct{}),
		remote: nc.RemoteAddr().String(),
	}
	c.fr.r = c.br
	_ = nc.SetDeadline(deadline)
	c.state.Store(int32(stateGreeting))
	// RFC 23 §"Greeting": both sides send the greeting at once.
	greeting := appendGreeting(nil, Greeting{Major: VersionMajor, Minor: VersionMinor, Mechanism: mech.name(), AsServer: mech.asServer()})
	if _, err := c.bw.Write(greeting); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	g, err := readGreeting(c.br)
	if err != nil {
		return nil, err
	}
	// RFC 23 §"Security Handshake": the mechanisms must match exactly, else
	// the connection is closed (there is no mechanism to carry ERROR).
	if g.Mechanism != mech.name() {
		return nil, protoErr("greeting", "unsupported mechanism "+quoteName(g.Mechanism)+", want "+mech.name(), nil)
	}
	// RFC 23: with CURVE one side is the server and the other the client.
	// libzmq 4.3 always sends as-server 0, so only two servers can be told
	// apart here; two clients fail at the first command.
	if mech.asServer() && g.AsServer {
		return nil, protoErr("greeting", "both peers are "+mech.name()+" servers", nil)
	}
	c.minor = negotiatedMinor(g)
	c.state.Store(int32(stateHandshake))
	h := &handshakeIO{fr: &c.fr, bw: c.bw, remote: c.remote}
	var pt SocketType
	check := func(md Metadata) error {
		t, err := ParseSocketType(md.Get(PropSocketType))
		if err != nil {
			return &refusal{reason: "Invalid socket type", err: protoErr("handshake", err.Error(), ErrIncompatible)}
		}
		// RFC 37 §"Socket Type Compatibility": a peer of an incompatible
		// type is refused with ERROR and closed.
		if !Compatible(local, t) {
			return &refusal{reason: "Invalid socket type", err: protoErr("handshake", "peer "+t.String()+" cannot talk to "+local.String(), ErrIncompatible)}
		}
		pt = t
		return nil
	}
	md, codec, err := mech.handshake(h, readyData(local, identity), check)
	if err != nil {
		return nil, err
	}
	c.codec = codec
	c.peerType = pt
	c.peerMeta = md
	c.upgradeBuffers()
	_ = nc.SetDeadline(time.Time{})
	c.state.Store(int32(stateReady))
	return c, nil
}

// upgradeBuffers switches to the large traffic buffers after the
// handshake, keeping any octets the peer already sent.
func (c *conn) upgradeBuffers() {
	var src io.Reader = c.nc
	if n := c.br.Buffered(); n > 0 {
		left, _ := c.br.Peek(n)
		src = &prefixReader{prefix: append([]byte(nil), left...), r: c.nc}
	}
	c.br = bufio.NewReaderSize(src, readBufSize)
	c.cw.w = c.nc
	c.bw = bufio.NewWriterSize(&c.cw, writeBufSize)
	c.fr.r = c.br
}

// prefixReader returns prefix, then reads from r.
type prefixReader struct {
	prefix []byte
	r      io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// closed reports whether the connection has failed or been closed.
func (c *conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// fail closes the connection once, recording why, and detaches it.
func (c *conn) fail(err error) {
	c.closeOnce.Do(func() {
		c.err = err
		c.state.Store(int32(stateClosed))
		close(c.done)
		_ = c.nc.Close()
		if c.s != nil {
			c.s.detach(c)
			if f := c.s.opts.disconnectObs; f != nil {
				cause := err
				if err == errConnClosed {
					cause = nil
				}
				f(c.remote, cause)
			}
		}
	})
}

// enqueue adds m to the send queue unless the queue holds hwm messages
// (hwm <= 0: unbounded). It never blocks.
func (c *conn) enqueue(m Msg, hwm int) bool {
	c.outMu.Lock()
	if c.closed() || c.shutWr || c.peerDone.Load() || (hwm > 0 && c.queuedLocked() >= hwm) {
		c.outMu.Unlock()
		return false
	}
	c.pushLocked(m)
	c.kickLocked()
	c.outMu.Unlock()
	return true
}

// enqueueRaw queues pre-encoded frames (commands, subscriptions), ignoring
// the HWM.
func (c *conn) enqueueRaw(raw []byte) {
	c.outMu.Lock()
	c.ctl = append(c.ctl, raw)
	c.kickLocked()
	c.outMu.Unlock()
}

// pushLocked queues m, packed when the connection packs.
func (c *conn) pushLocked(m Msg) {
	if c.pack {
		c.packed.push(m)
		return
	}
	c.out = append(c.out, m)
}

// queuedLocked is the number of messages queued, which the HWM bounds.
func (c *conn) queuedLocked() int { return len(c.out) + c.packed.msgs }

func (c *conn) kickLocked() {
	if c.writerIdle {
		c.writerIdle = false
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// drain waits until everything queued has been written, or until timeout.
func (c *conn) drain(timeout time.Duration) {
	c.outMu.Lock()
	if (c.writerIdle && c.queuedLocked() == 0 && len(c.ctl) == 0) || c.closed() {
		c.outMu.Unlock()
		return
	}
	if c.drainCh == nil {
		c.drainCh = make(chan struct{})
	}
	ch := c.drainCh
	c.outMu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
	case <-c.done:
	case <-t.C:
	}
}

// writeLoop drains the send queue into the buffered writer, flushing only
// when the queue is empty. When the connection dies it hands every message
// that never reached the kernel back to the socket (requeue.go).
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	unsent, err := c.writeQueued()
	c.fail(err)
	c.rescue(unsent)
}

// writeQueued runs until the connection fails. It returns the error and
// the messages of the batch in hand that were not yet passed to the
// buffered writer.
func (c *conn) writeQueued() ([]Msg, error) {
	var written packedQueue // the last pass's, whose chunks are reused
	for {
		if c.peerDone.Load() {
			return nil, c.finishWrites()
		}
		c.outMu.Lock()
		c.packed.recycle(written)
		written = packedQueue{}
		for c.queuedLocked() == 0 && len(c.ctl) == 0 {
			if c.peerDone.Load() {
				c.outMu.Unlock()
				return nil, c.finishWrites()
			}
			if c.bw.Buffered() > 0 {
				c.outMu.Unlock()
				if err := c.bw.Flush(); err != nil {
					return nil, err
				}
				c.unacked.ack(c.cw.n)
				c.outMu.Lock()
				continue
			}
			if c.drainCh != nil {
				close(c.drainCh)
				c.drainCh = nil
			}
			if c.shutWr {
				c.outMu.Unlock()
				return nil, c.closeWrite()
			}
			c.writerIdle = true
			c.outMu.Unlock()
			select {
			case <-c.wake:
			case <-c.done:
				return nil, c.err
			}
			c.outMu.Lock()
		}
		batch, ctl := c.out, c.ctl
		var packed packedQueue
		if !c.packed.empty() {
			packed = c.packed.take()
		}
		c.out, c.ctl = c.nextOut(len(batch)), nil
		c.outMu.Unlock()
		c.s.lb.signal()

		for _, raw := range ctl {
			n, err := c.codec.writeRaw(c.bw, raw)
			if err != nil {
				return batch, err
			}
			c.unacked.skip(n)
		}
		var bytes uint64
		for i, m := range batch {
			n, err := c.codec.writeMsg(c.bw, m)
			if err != nil {
				return batch[i:], err
			}
			c.unacked.push(m, n)
			bytes += uint64(m.Size())
		}
		if !packed.empty() {
			n, err := packed.writeTo(c.bw)
			if err != nil {
				return nil, err // a packed queue's messages are not requeued
			}
			c.unacked.skip(n)
			bytes += packed.bytes
			written = packed
		}
		c.unacked.ack(c.cw.n)
		c.s.stats.msgsOut.Add(uint64(len(batch) + packed.msgs))
		c.s.stats.bytesOut.Add(bytes)
		clear(batch)
		// Keep the batch's array for reuse unless an unbounded queue made
		// it huge.
		if cap(batch) <= c.keptQueueCap() {
			c.spare = batch[:0]
		} else {
			c.spare = nil
		}
	}
}

// nextOut is the empty queue that replaces a batch of n messages taken by
// the writer: the spare array when it holds n, else a new one of n. A
// sender that outpaces the writer queues about as much while this batch
// is written as it did while the last one was, and the queue then takes it
// without growing step by step (each step copies the queued messages,
// whose frames the garbage collector must trace). n is capped at
// keptQueueCap, so that an idle connection never holds more.
func (c *conn) nextOut(n int) []Msg {
	n = min(n, c.keptQueueCap())
	if cap(c.spare) >= n {
		return c.spare[:0]
	}
	return make([]Msg, 0, n)
}

// keptQueueCap is the most messages a queue array kept for reuse may hold:
// 64 Ki (1.5 MiB of message headers), or twice ZMQ_SNDHWM if that is more.
func (c *conn) keptQueueCap() int {
	return max(1<<16, 2*c.s.opts.sendHWM)
}

// nextFrameBuffered reports whether a whole frame is already buffered, so
// reading it will not block.
func (c *conn) nextFrameBuffered() bool {
	n := c.br.Buffered()
	if n < 2 {
		return false
	}
	b, _ := c.br.Peek(n)
	if b[0]&flagLong != 0 {
		if n < 9 {
			return false
		}
		return uint64(n-9) >= binary.BigEndian.Uint64(b[1:9])
	}
	return n-2 >= int(b[1])
}

// finishMsg copies the assembled frames into an exactly-sized slice carved
// from a slab, so single-frame messages cost no allocation of their own.
func (c *conn) finishMsg(cur Msg) Msg {
	k := len(cur)
	if len(c.msgSlab) < k {
		c.msgSlab = make([][]byte, max(256, k))
	}
	m := Msg(c.msgSlab[:k:k])
	copy(m, cur)
	c.msgSlab = c.msgSlab[k:]
	return m
}

// readLoop decodes frames and hands complete messages to the socket.
func (c *conn) readLoop() {
	defer c.s.wg.Done()
	var (
		batch []Msg
		raw   rawBuilder // instead of batch when c.inRaw is set
		cur   Msg
		size  int64
		bytes uint64
	)
	maxMsg := c.s.opts.maxMsgSize
	keep, _ := c.s.pat.(rawIncomer)
	// handOver gives the socket the messages read so far, waiting while
	// c's queue is at the RCVHWM; it is false if the connection or the
	// socket closed meanwhile, or c's input was discarded (Disconnect).
	handOver := func() bool {
		n := len(batch) + raw.msgs
		if n == 0 {
			return true
		}
		c.s.stats.msgsIn.Add(uint64(n))
		c.s.stats.bytesIn.Add(bytes)
		bytes = 0
		var ok, handoff bool
		if c.inRaw != nil {
			ok, handoff = c.s.fq.pushRaw(c, &raw)
		} else {
			ok, handoff = c.s.fq.push(c, batch)
			clear(batch)
			batch = batch[:0]
		}
		if ok && handoff {
			// A receiver waits and this queue is long (handoffLen says
			// when): yield so that it takes the messages now, on this P
			// and core, while they are in cache. The woken receiver sits
			// in this P's runnext; Gosched puts the reader on the global
			// run queue, behind it. Otherwise, on one P (a device's
			// default, device.ioThreads), a reader whose peer always has
			// more to send runs on until preempted, about 10 ms, and the
			// messages are cold when taken; with several, another P
			// steals the receiver and takes them on another core.
			runtime.Gosched()
		}
		return ok
	}
	for {
		// Hand over what we have before a read that could block: after a
		// message or a command, whenever the next frame is not buffered.
		if n := len(batch) + raw.msgs; n > 0 && (n >= maxBatch || !c.nextFrameBuffered()) {
			if !handOver() {
				return
			}
		}
		if c.inRaw != nil && len(cur) == 0 {
			// Whole small messages already buffered go to the raw queue
			// as they are (rawrecv.go); anything else is read below.
			consumed, n := raw.readBuffered(c.fr.r, maxMsg, keep, maxBatch-raw.msgs)
			if consumed > 0 {
				if !c.traffic.Load() {
					c.traffic.Store(true)
				}
				bytes += n
				continue
			}
		}
		limit := int64(-1)
		if maxMsg >= 0 {
			limit = maxMsg - size
		}
		flags, body, err := c.codec.readFrame(&c.fr, limit)
		if err != nil {
			// The whole messages before the bad frame were received:
			// deliver them, as libzmq does (and below).
			handOver()
			if errors.Is(err, ErrFrameTooLarge) {
				c.s.stats.oversize.Add(1)
			}
			if err == io.EOF && len(cur) == 0 {
				// The peer shut its sending side between messages: it
				// may still be reading (drain.go).
				c.peerFinished()
				return
			}
			c.fail(err)
			return
		}
		if !c.traffic.Load() { // a load is cheaper than a store per frame
			c.traffic.Store(true)
		}
		if flags&flagCommand != 0 {
			// RFC 23: a command is a single frame; it cannot sit inside a
			// multipart message.
			if len(cur) > 0 {
				handOver()
				c.fail(protoErr("traffic", "command inside a multipart message", nil))
				return
			}
			if err := c.handleCommand(body); err != nil {
				handOver()
				c.fail(err)
				return
			}
			continue
		}
		cur = append(cur, body)
		size += int64(len(body))
		if flags&flagMore != 0 {
			continue
		}
		m := c.finishMsg(cur)
		clear(cur)
		cur = cur[:0]
		bytes += uint64(size)
		size = 0
		if m2, ok := c.s.pat.incoming(c, m); ok {
			if c.inRaw != nil {
				raw.addMsg(m2)
			} else {
				batch = append(batch, m2)
			}
		}
	}
}

// handleCommand processes a command received after the handshake.
func (c *conn) handleCommand(body []byte) error {
	cmd, err := parseCommand(body)
	if err != nil {
		return err
	}
	switch cmd.Name {
	case cmdPing:
		ttl, pctx, err := parsePing(cmd.Data)
		if err != nil {
			return err
		}
		if ttl > 0 {
			c.peerTTL.Store(int64(ttl) * int64(100*time.Millisecond))
			c.startHeartbeat()
		}
		// RFC 37 §"PING and PONG": always answer with the same context.
		c.enqueueRaw(appendCommand(nil, cmdPong, pctx))
	case cmdPong:
		// Any traffic is a sign of life; nothing else to do.
	case cmdSubscribe, cmdCancel:
		c.s.pat.subscription(c, cmd.Data, cmd.Name == cmdSubscribe)
	case cmdError:
		reason, _ := parseError(cmd.Data)
		return &ProtocolError{Stage: "traffic", Reason: "peer ERROR: " + reason, Err: ErrPeerError}
	case cmdReady:
		return protoErr("traffic", "READY after handshake", nil)
	default:
		// Unknown commands are ignored for forward compatibility.
	}
	return nil
}

// errConnClosed is the reason recorded when we close a connection.
var errConnClosed = errors.New("zmtp: connection closed locally")
