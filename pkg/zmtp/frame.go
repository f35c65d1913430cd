package zmtp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// Frame codec (RFC 23 §"Framing"):
//
//	frame = flags size body
//	flags = 1 octet: bit0 MORE, bit1 LONG, bit2 COMMAND, bits 7-3 zero
//	size  = 1 octet, or 8 octets network order when LONG is set
//
// The codec works over plain byte slices (appendFrame, parseFrame) for tests
// and fuzzing, and over bufio for the engine (frameReader, writeFrame), so
// that one read syscall yields many frames and one write flushes many.

// errNeedMore is returned by parseFrame when b holds an incomplete frame.
var errNeedMore = errors.New("zmtp: incomplete frame")

const (
	// slabSize is the size of the arena small frame bodies are carved from,
	// which saves one allocation per small message.
	slabSize = 32 << 10
	// slabMaxFrame is the largest body carved from the slab: 1 KiB
	// messages (a common size, and the devices' benchmark size) then cost
	// no allocation of their own either. A retained body keeps at most its
	// 32 KiB slab alive.
	slabMaxFrame = 2048
	// growChunk bounds how much is allocated ahead of the data actually
	// received for a large frame: a peer that claims 2^63 bytes and sends
	// nothing costs us at most this much.
	growChunk = 1 << 20
)

// frameHeaderSize is the length of the header of a frame of n octets:
// 2, or 9 for a long frame (RFC 23 §"Framing").
func frameHeaderSize(n int) int {
	if n > math.MaxUint8 {
		return 9
	}
	return 2
}

// appendFrameHeader appends a frame header for a body of n octets.
func appendFrameHeader(dst []byte, flags byte, n int) []byte {
	if n > math.MaxUint8 {
		var b [9]byte
		b[0] = flags | flagLong
		binary.BigEndian.PutUint64(b[1:], uint64(n))
		return append(dst, b[:]...)
	}
	return append(dst, flags&^flagLong, byte(n))
}

// appendFrame appends a whole frame to dst.
func appendFrame(dst []byte, flags byte, body []byte) []byte {
	return append(appendFrameHeader(dst, flags, len(body)), body...)
}

// appendCommand appends a command frame: name length, name, data (RFC 23
// §"Commands").
func appendCommand(dst []byte, name string, data []byte) []byte {
	n := 1 + len(name) + len(data)
	dst = appendFrameHeader(dst, flagCommand, n)
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	return append(dst, data...)
}

// checkHeader validates flags and the declared size against max (< 0 means
// unlimited) before any body is allocated.
func checkHeader(flags byte, size uint64, max int64) error {
	return checkHeaderCmd(flags, size, max, maxCommandSize)
}

// checkHeaderCmd is checkHeader with cmdMax bounding command frames.
func checkHeaderCmd(flags byte, size uint64, max int64, cmdMax uint64) error {
	// RFC 23 §"Framing": reserved bits MUST be zero.
	if flags&flagReserved != 0 {
		return protoErr("traffic", "reserved frame flag bits set", nil)
	}
	// RFC 23 §"Framing": a command frame never has MORE set.
	if flags&flagCommand != 0 {
		if flags&flagMore != 0 {
			return protoErr("traffic", "command frame with MORE flag", nil)
		}
		if size > cmdMax {
			return protoErr("traffic", "command frame too large", ErrFrameTooLarge)
		}
	}
	if size > math.MaxInt64 || (max >= 0 && size > uint64(max)) {
		return protoErr("traffic", "frame exceeds maximum message size", ErrFrameTooLarge)
	}
	return nil
}

// parseFrame decodes one frame from the start of b. It returns the flags, the
// body (aliasing b), and the number of octets consumed, or errNeedMore.
func parseFrame(b []byte, max int64) (flags byte, body []byte, n int, err error) {
	return parseFrameCmd(b, max, maxCommandSize)
}

// parseFrameCmd is parseFrame with cmdMax bounding command frames. The
// header is checked as soon as it is whole, before the body has arrived.
func parseFrameCmd(b []byte, max int64, cmdMax uint64) (flags byte, body []byte, n int, err error) {
	if len(b) < 2 {
		return 0, nil, 0, errNeedMore
	}
	flags = b[0]
	var size uint64
	hdr := 2
	if flags&flagLong != 0 {
		if len(b) < 9 {
			return 0, nil, 0, errNeedMore
		}
		size = binary.BigEndian.Uint64(b[1:9])
		hdr = 9
	} else {
		size = uint64(b[1])
	}
	if err := checkHeaderCmd(flags, size, max, cmdMax); err != nil {
		return 0, nil, 0, err
	}
	if uint64(len(b)-hdr) < size {
		return 0, nil, 0, errNeedMore
	}
	end := hdr + int(size)
	return flags, b[hdr:end], end, nil
}

// frameReader decodes frames from a buffered stream.
type frameReader struct {
	r    *bufio.Reader
	slab []byte
}

// alloc returns a zeroed-length body buffer of n octets, carved from the
// slab when small.
func (fr *frameReader) alloc(n int) []byte {
	if n > slabMaxFrame {
		return make([]byte, n)
	}
	if len(fr.slab) < n {
		fr.slab = make([]byte, slabSize)
	}
	b := fr.slab[:n:n]
	fr.slab = fr.slab[n:]
	return b
}

// readFrame reads one frame. limit bounds this frame's size (the remaining
// message budget); < 0 means unlimited (bodies are then still allocated only
// as their bytes arrive).
func (fr *frameReader) readFrame(limit int64) (flags byte, body []byte, err error) {
	return fr.readFrameMax(limit, maxCommandSize)
}

// readFrameMax is readFrame with cmdMax bounding command frames instead of
// maxCommandSize (a CURVE MESSAGE command carries a whole frame).
func (fr *frameReader) readFrameMax(limit int64, cmdMax uint64) (flags byte, body []byte, err error) {
	if flags, body, ok, err := fr.readBuffered(limit, cmdMax); ok || err != nil {
		return flags, body, err
	}
	flags, err = fr.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	var size uint64
	if flags&flagLong != 0 {
		b, err := fr.r.Peek(8)
		if err != nil {
			return 0, nil, unexpected(err)
		}
		size = binary.BigEndian.Uint64(b)
		_, _ = fr.r.Discard(8)
	} else {
		s, err := fr.r.ReadByte()
		if err != nil {
			return 0, nil, unexpected(err)
		}
		size = uint64(s)
	}
	if err := checkHeaderCmd(flags, size, limit, cmdMax); err != nil {
		return 0, nil, err
	}
	n := int64(size)
	if n <= growChunk {
		body = fr.alloc(int(n))
		if _, err := io.ReadFull(fr.r, body); err != nil {
			return 0, nil, unexpected(err)
		}
		return flags, body, nil
	}
	// Large frame: grow with the data actually received, never trusting
	// the declared size for the allocation.
	body = make([]byte, 0, growChunk)
	for int64(len(body)) < n {
		if len(body) == cap(body) {
			next := int64(cap(body)) * 2
			if next > n {
				next = n
			}
			nb := make([]byte, len(body), next)
			copy(nb, body)
			body = nb
		}
		want := int64(cap(body)) - int64(len(body))
		m, err := io.ReadFull(fr.r, body[len(body):int64(len(body))+want])
		body = body[:len(body)+m]
		if err != nil {
			return 0, nil, unexpected(err)
		}
	}
	return flags, body, nil
}

// readBuffered decodes the next frame in place when the whole of it is
// already buffered and its body fits the slab: one look at the buffer and
// one copy instead of a read call per header field and for the body. ok is
// false when it decoded nothing (readFrameMax then reads the frame). On
// an error it consumes nothing, where the slow path has consumed the
// header: every caller gives up on the stream after a framing error.
func (fr *frameReader) readBuffered(limit int64, cmdMax uint64) (flags byte, body []byte, ok bool, err error) {
	b, _ := fr.r.Peek(fr.r.Buffered()) // buffered: no read, no error
	flags, raw, n, err := parseFrameCmd(b, limit, cmdMax)
	if err == errNeedMore || len(raw) > slabMaxFrame {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, err
	}
	body = fr.alloc(len(raw))
	copy(body, raw)
	_, _ = fr.r.Discard(n)
	return flags, body, true, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeFrame writes one frame through w.
func writeFrame(w *bufio.Writer, flags byte, body []byte) error {
	n := len(body)
	if n > math.MaxUint8 {
		var b [9]byte
		b[0] = flags | flagLong
		binary.BigEndian.PutUint64(b[1:], uint64(n))
		if _, err := w.Write(b[:]); err != nil {
			return err
		}
	} else if w.Available() >= 2 {
		b := w.AvailableBuffer()
		b = append(b, flags&^flagLong, byte(n))
		if _, err := w.Write(b); err != nil {
			return err
		}
	} else if _, err := w.Write([]byte{flags &^ flagLong, byte(n)}); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// writeMsg writes every frame of m, setting MORE on all but the last.
func writeMsg(w *bufio.Writer, m Msg) error {
	last := len(m) - 1
	for i, f := range m {
		var fl byte
		if i < last {
			fl = flagMore
		}
		if err := writeFrame(w, fl, f); err != nil {
			return err
		}
	}
	return nil
}
