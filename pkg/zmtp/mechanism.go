package zmtp

import "bufio"

// mechanism is a ZMTP security mechanism (RFC 23 §"Authentication and
// Confidentiality"): after the greetings it exchanges handshake commands
// until both sides are READY or one sends ERROR.
type mechanism interface {
	// name is the mechanism name carried in the greeting.
	name() string
	// handshake sends our properties and returns the peer's.
	handshake(h *handshakeIO, local []byte) (Metadata, error)
}

// handshakeIO is the command-level view of a connection during the
// handshake.
type handshakeIO struct {
	fr *frameReader
	bw *bufio.Writer
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
