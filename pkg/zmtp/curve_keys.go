package zmtp

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"strings"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// CurveKeySize is the size of CURVE public and secret keys in octets
// (Curve25519, RFC 26).
const CurveKeySize = 32

// CurveZ85KeySize is the length of a CURVE key in Z85 text (RFC 32).
const CurveZ85KeySize = 40

// CurvePublicKey is a long-term CURVE public key (libzmq's
// ZMQ_CURVE_PUBLICKEY / ZMQ_CURVE_SERVERKEY). Its String is the Z85 form.
type CurvePublicKey [CurveKeySize]byte

// CurveSecretKey is a long-term CURVE secret key (libzmq's
// ZMQ_CURVE_SECRETKEY). It never prints: String and GoString return a
// placeholder, so a key cannot reach a log by accident; use Z85 to write
// it out deliberately.
type CurveSecretKey [CurveKeySize]byte

// String returns the 40-character Z85 form of k.
func (k CurvePublicKey) String() string {
	s, _ := Z85Encode(k[:])
	return s
}

// Equal reports whether k and o are the same key, in constant time.
func (k CurvePublicKey) Equal(o CurvePublicKey) bool {
	return subtle.ConstantTimeCompare(k[:], o[:]) == 1
}

// String hides the key.
func (CurveSecretKey) String() string { return "CurveSecretKey(redacted)" }

// GoString hides the key from %#v.
func (CurveSecretKey) GoString() string { return "CurveSecretKey(redacted)" }

// Z85 returns the 40-character Z85 form of the secret key.
func (k CurveSecretKey) Z85() string {
	s, _ := Z85Encode(k[:])
	return s
}

// Public derives the public key of k (X25519 with the base point).
func (k CurveSecretKey) Public() (CurvePublicKey, error) {
	var pub CurvePublicKey
	p, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		return pub, fmt.Errorf("zmtp: derive CURVE public key: %w", err)
	}
	copy(pub[:], p)
	return pub, nil
}

// GenerateCurveKeyPair returns a new long-term key pair from crypto/rand
// (libzmq's zmq_curve_keypair).
func GenerateCurveKeyPair() (CurvePublicKey, CurveSecretKey, error) {
	pub, sec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return CurvePublicKey{}, CurveSecretKey{}, fmt.Errorf("zmtp: generate CURVE key pair: %w", err)
	}
	defer clear(sec[:])
	return CurvePublicKey(*pub), CurveSecretKey(*sec), nil
}

// parseCurveKey decodes a 40-character Z85 key; surrounding white space
// (a trailing newline in a key file) is ignored.
func parseCurveKey(what, s string) ([CurveKeySize]byte, error) {
	var k [CurveKeySize]byte
	s = strings.TrimSpace(s)
	if len(s) != CurveZ85KeySize {
		return k, fmt.Errorf("zmtp: CURVE %s key: want %d Z85 characters, got %d", what, CurveZ85KeySize, len(s))
	}
	b, err := Z85Decode(s)
	if err != nil {
		return k, fmt.Errorf("zmtp: CURVE %s key: %w", what, err)
	}
	copy(k[:], b)
	clear(b)
	return k, nil
}

// ParseCurvePublicKey decodes a public key from its 40-character Z85 form.
func ParseCurvePublicKey(z85 string) (CurvePublicKey, error) {
	k, err := parseCurveKey("public", z85)
	return CurvePublicKey(k), err
}

// ParseCurveSecretKey decodes a secret key from its 40-character Z85 form.
// Errors never quote the text.
func ParseCurveSecretKey(z85 string) (CurveSecretKey, error) {
	k, err := parseCurveKey("secret", z85)
	return CurveSecretKey(k), err
}
