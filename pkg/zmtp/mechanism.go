package zmtp

import (
	"bufio"
	"errors"
)

// mechanism is a ZMTP security mechanism (RFC 23 §"Authentication and
// Confidentiality"): after the greetings it exchanges handshake commands
// until both sides are READY or one sends ERROR.
type mechanism interface {
	// name is the mechanism name carried in the greeting.
	name() string
	// asServer is the greeting's as-server flag.
	asServer() bool
	// handshake sends our properties (local) and returns the peer's,
	// with the codec for the traffic that follows. check judges the
	// peer's properties before we commit to the connection; a
	// *refusal it returns is reported to the peer with ERROR where the
	// mechanism allows it.
	handshake(h *handshakeIO, local []byte, check func(Metadata) error) (Metadata, frameCodec, error)
}

// refusal is a handshake failure the peer is told about with ERROR.
type refusal struct {
	// reason is the ERROR reason sent to the peer.
	reason string
	err    error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// sendRefusal tells the peer why we refuse it, if err is a *refusal.
func sendRefusal(h *handshakeIO, err error) {
	var r *refusal
	if errors.As(err, &r) {
		_ = h.writeCommand(cmdError, errorData(r.reason))
	}
}

// handshakeIO is the command-level view of a connection during the
// handshake.
type handshakeIO struct {
	fr *frameReader
	bw *bufio.Writer
	// remote is the peer's address, for authorisers.
	remote string
}

// readCommand reads one frame and requires it to be a command (RFC 23: only
// commands may be sent before the handshake completes).
func (h *handshakeIO) readCommand() (Command, error) {
	flags, body, err := h.fr.readFrame(maxCommandSize)
	if err != nil {
		return Command{}, err
	}
	if flags&flagCommand == 0 {
		return Command{}, protoErr("handshake", "message frame before READY", nil)
	}
	return parseCommand(body)
}

// writeCommand writes and flushes one command.
func (h *handshakeIO) writeCommand(name string, data []byte) error {
	if _, err := h.bw.Write(appendCommand(nil, name, data)); err != nil {
		return err
	}
	return h.bw.Flush()
}
