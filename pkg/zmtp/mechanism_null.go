package zmtp

// nullMechanism is the NULL mechanism (RFC 23 §"The NULL Security
// Mechanism"): each side sends READY with its metadata, or ERROR.
type nullMechanism struct{}

func (nullMechanism) name() string   { return MechanismNull }
func (nullMechanism) asServer() bool { return false }

func (nullMechanism) handshake(h *handshakeIO, local []byte, check func(Metadata) error) (Metadata, frameCodec, error) {
	if err := h.writeCommand(cmdReady, local); err != nil {
		return nil, nil, err
	}
	md, err := readPeerReady(h)
	if err != nil {
		return nil, nil, err
	}
	if err := check(md); err != nil {
		sendRefusal(h, err)
		return nil, nil, err
	}
	return md, plainCodec{}, nil
}

// readPeerReady reads the peer's READY (or ERROR) command.
func readPeerReady(h *handshakeIO) (Metadata, error) {
	cmd, err := h.readCommand()
	if err != nil {
		return nil, err
	}
	switch cmd.Name {
	case cmdReady:
		return parseMetadata(cmd.Data)
	case cmdError:
		reason, perr := parseError(cmd.Data)
		if perr != nil {
			return nil, perr
		}
		return nil, &ProtocolError{Stage: "handshake", Reason: "peer ERROR: " + reason, Err: ErrPeerError}
	default:
		return nil, protoErr("handshake", "unexpected command "+quoteName(cmd.Name)+" before READY", nil)
	}
}

func quoteName(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}
