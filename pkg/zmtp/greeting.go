package zmtp

import (
	"bytes"
	"io"
)

// Greeting is the 64-octet ZMTP 3.x greeting (RFC 23 §"Greeting"):
//
//	signature (10) = %xFF padding(8) %x7F
//	version   (2)  = major minor
//	mechanism (20) = name padded with NULs
//	as-server (1)
//	filler    (31) = NULs
type Greeting struct {
	// Major and Minor are the protocol version the peer announced (a
	// major above 3 is reported as 3.1, the version we then speak).
	Major, Minor byte
	// Mechanism is the security mechanism name ("NULL", "PLAIN", "CURVE").
	Mechanism string
	// AsServer is the as-server flag (meaningful for PLAIN and CURVE).
	AsServer bool
}

// appendGreeting appends the wire form of g to dst.
func appendGreeting(dst []byte, g Greeting) []byte {
	var b [greetingSize]byte
	b[0] = 0xFF
	b[9] = 0x7F
	b[10] = g.Major
	b[11] = g.Minor
	copy(b[12:12+mechanismSize], g.Mechanism)
	if g.AsServer {
		b[32] = 1
	}
	return append(dst, b[:]...)
}

// ourGreeting is what every socket and the prober send: ZMTP 3.1, NULL.
func ourGreeting() []byte {
	return appendGreeting(nil, Greeting{Major: VersionMajor, Minor: VersionMinor, Mechanism: MechanismNull})
}

// checkSignature validates the first octets of a greeting as they arrive, so
// a non-ZMTP peer is rejected after at most 11 octets (RFC 23 §"Version
// Negotiation": a peer reads the signature, then the major version, before
// committing to the rest). b may be shorter than 11 octets.
func checkSignature(b []byte) error {
	if len(b) > 0 && b[0] != 0xFF {
		return protoErr("greeting", "bad signature octet 0", ErrNotZMTP)
	}
	// Octet 9 is %x7F for ZMTP 2.0 and later; ZMTP 1.0 sends a length there
	// whose low bit may be clear (RFC 23 §"Backwards Interoperability").
	if len(b) > 9 && b[9] != 0x7F {
		if b[9]&0x01 == 0 {
			return protoErr("greeting", "ZMTP 1.0 peer", ErrUnsupportedVersion)
		}
		return protoErr("greeting", "bad signature octet 9", ErrNotZMTP)
	}
	// RFC 23: we speak only 3.x; a peer below 3 is refused, a peer above 3
	// must downgrade to us.
	if len(b) > 10 && b[10] < VersionMajor {
		return protoErr("greeting", "ZMTP major version below 3", ErrUnsupportedVersion)
	}
	return nil
}

// parseGreeting decodes a complete 64-octet greeting.
func parseGreeting(b []byte) (Greeting, error) {
	if len(b) < greetingSize {
		return Greeting{}, protoErr("greeting", "short greeting", io.ErrUnexpectedEOF)
	}
	if err := checkSignature(b[:11]); err != nil {
		return Greeting{}, err
	}
	mech := b[12 : 12+mechanismSize]
	if i := bytes.IndexByte(mech, 0); i >= 0 {
		mech = mech[:i]
	}
	g := Greeting{Major: b[10], Minor: b[11], Mechanism: string(mech), AsServer: b[32] != 0}
	if g.Major > VersionMajor {
		g.Major, g.Minor = VersionMajor, VersionMinor
	}
	return g, nil
}

// readGreeting reads the peer's greeting in two steps, validating the
// signature and major version (the first 11 octets) before waiting for the
// remaining 53, so that HTTP or TLS servers are identified early.
func readGreeting(r io.Reader) (Greeting, error) {
	var b [greetingSize]byte
	n := 0
	for n < 11 {
		m, err := r.Read(b[n:11])
		n += m
		if cerr := checkSignature(b[:n]); cerr != nil {
			return Greeting{}, cerr
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Greeting{}, err
		}
	}
	if _, err := io.ReadFull(r, b[11:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Greeting{}, err
	}
	return parseGreeting(b[:])
}

// negotiatedMinor returns the minor version both sides speak (RFC 37: the
// lower of the two versions).
func negotiatedMinor(peer Greeting) byte {
	if peer.Major > VersionMajor || peer.Minor > VersionMinor {
		return VersionMinor
	}
	return peer.Minor
}
