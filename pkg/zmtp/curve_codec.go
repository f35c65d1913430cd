package zmtp

import (
	"bufio"
	"encoding/binary"
	"math"

	"golang.org/x/crypto/nacl/box"
)

// curveCodec boxes every frame after a CURVE handshake into a MESSAGE
// command (RFC 26 §"The MESSAGE Command"):
//
//	%d7 "MESSAGE" short-nonce(8) Box[flags(1) + body]
//
// flags inside the box: 0x01 MORE, 0x02 COMMAND, so PING, SUBSCRIBE and
// every other command after the handshake are encrypted too. The outer
// frame is sent as libzmq sends it (no flags but LONG); either form is
// accepted. Nonces count up from where the handshake left them and must
// strictly increase: a replayed or reordered MESSAGE closes the
// connection.
type curveCodec struct {
	// key is the precomputed crypto_box key of the short-term pair
	// (C', s') or (S', c'); read-only after the handshake.
	key *[32]byte
	// Writer-owned.
	sendPrefix string
	sendNonce  uint64 // next nonce to use
	plain      []byte // scratch: flags + body
	sealed     []byte // scratch: the box
	// Reader-owned.
	recvPrefix string
	peerNonce  uint64 // last nonce accepted
}

// scratchKeep bounds the scratch buffers kept between frames, so one huge
// message does not pin its size for the life of the connection.
const scratchKeep = 1 << 20

func (c *curveCodec) writeFrame(w *bufio.Writer, flags byte, body []byte) (int, error) {
	if c.sendNonce == math.MaxUint64 {
		return 0, protoErr("traffic", "CURVE: send nonces exhausted", nil)
	}
	n := c.sendNonce
	c.sendNonce++
	var inner byte
	if flags&flagMore != 0 {
		inner |= innerFlagMore
	}
	if flags&flagCommand != 0 {
		inner |= innerFlagCommand
	}
	c.plain = append(append(c.plain[:0], inner), body...)
	c.sealed = box.SealAfterPrecomputation(c.sealed[:0], c.plain, shortNonce(c.sendPrefix, n), c.key)
	size := messageHeader + len(c.sealed)
	var hdr [9 + messageHeader]byte
	h := appendFrameHeader(hdr[:0], 0, size)
	h = append(h, byte(len(cmdMessage)))
	h = append(h, cmdMessage...)
	h = binary.BigEndian.AppendUint64(h, n)
	if _, err := w.Write(h); err != nil {
		return 0, err
	}
	if _, err := w.Write(c.sealed); err != nil {
		return 0, err
	}
	written := len(h) + len(c.sealed)
	if cap(c.plain) > scratchKeep {
		c.plain, c.sealed = nil, nil
	}
	return written, nil
}

func (c *curveCodec) writeMsg(w *bufio.Writer, m Msg) (int, error) {
	total := 0
	last := len(m) - 1
	for i, f := range m {
		var fl byte
		if i < last {
			fl = flagMore
		}
		n, err := c.writeFrame(w, fl, f)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (c *curveCodec) writeRaw(w *bufio.Writer, raw []byte) (int, error) {
	total := 0
	for len(raw) > 0 {
		flags, body, n, err := parseFrame(raw, -1)
		if err != nil {
			return total, err
		}
		m, err := c.writeFrame(w, flags, body)
		total += m
		if err != nil {
			return total, err
		}
		raw = raw[n:]
	}
	return total, nil
}

func (c *curveCodec) readFrame(fr *frameReader, limit int64) (byte, []byte, error) {
	outer := int64(-1)
	cmdMax := uint64(math.MaxInt64)
	if limit >= 0 {
		outer = limit + int64(messageOverhead)
		cmdMax = uint64(outer)
	}
	flags, body, err := fr.readFrameMax(outer, cmdMax)
	if err != nil {
		return 0, nil, err
	}
	return c.open(flags, body, fr.alloc)
}

// open decrypts one MESSAGE frame (outer flags and body) into the plain
// frame it carries; alloc provides the plaintext buffer.
func (c *curveCodec) open(flags byte, body []byte, alloc func(int) []byte) (byte, []byte, error) {
	if flags&flagMore != 0 {
		return 0, nil, protoErr("traffic", "CURVE: MESSAGE frame with MORE flag", nil)
	}
	if len(body) < 1+len(cmdMessage) || body[0] != byte(len(cmdMessage)) || string(body[1:1+len(cmdMessage)]) != cmdMessage {
		return 0, nil, protoErr("traffic", "CURVE: frame is not a MESSAGE command", nil)
	}
	if len(body) < messageOverhead {
		return 0, nil, protoErr("traffic", "CURVE: MESSAGE too short", nil)
	}
	nonce := binary.BigEndian.Uint64(body[1+len(cmdMessage):])
	// RFC 26: short nonces strictly increase; anything else is a replay
	// or a reordering.
	if nonce <= c.peerNonce {
		return 0, nil, protoErr("traffic", "CURVE: MESSAGE nonce not increasing (replayed or reordered)", nil)
	}
	sealed := body[messageHeader:]
	plain, ok := box.OpenAfterPrecomputation(alloc(len(sealed) - box.Overhead)[:0], sealed, shortNonce(c.recvPrefix, nonce), c.key)
	if !ok {
		return 0, nil, protoErr("traffic", "CURVE: MESSAGE box does not open", ErrAuth)
	}
	c.peerNonce = nonce
	var out byte
	if plain[0]&innerFlagMore != 0 {
		out |= flagMore
	}
	if plain[0]&innerFlagCommand != 0 {
		out |= flagCommand
		// RFC 23: a command is one frame of bounded size.
		if out&flagMore != 0 {
			return 0, nil, protoErr("traffic", "CURVE: command frame with MORE flag", nil)
		}
		if len(plain)-1 > maxCommandSize {
			return 0, nil, protoErr("traffic", "CURVE: command frame too large", ErrFrameTooLarge)
		}
	}
	return out, plain[1:], nil
}
