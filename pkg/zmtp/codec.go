package zmtp

import "bufio"

// frameCodec carries frames over an established connection: plain ZMTP
// framing after a NULL handshake, boxed MESSAGE commands after CURVE.
// writeMsg and writeRaw are called only by the connection's writer
// goroutine, readFrame only by its reader, so a codec keeps its send and
// receive state apart and needs no lock.
type frameCodec interface {
	// writeMsg writes every frame of m (MORE on all but the last) and
	// returns the number of octets passed to w.
	writeMsg(w *bufio.Writer, m Msg) (int, error)
	// writeRaw writes pre-encoded plain frames (commands, ZMTP 3.0
	// subscription messages) and returns the octets passed to w.
	writeRaw(w *bufio.Writer, raw []byte) (int, error)
	// readFrame reads the next plain frame; limit bounds its body as in
	// frameReader.readFrame.
	readFrame(fr *frameReader, limit int64) (flags byte, body []byte, err error)
}

// plainCodec is the unencrypted framing of RFC 23 §"Framing".
type plainCodec struct{}

func (plainCodec) writeMsg(w *bufio.Writer, m Msg) (int, error) {
	return wireSize(m), writeMsg(w, m)
}

func (plainCodec) writeRaw(w *bufio.Writer, raw []byte) (int, error) {
	return w.Write(raw)
}

func (plainCodec) readFrame(fr *frameReader, limit int64) (byte, []byte, error) {
	return fr.readFrame(limit)
}
