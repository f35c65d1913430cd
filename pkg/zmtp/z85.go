package zmtp

import (
	"errors"
	"fmt"
)

// Z85 (ZeroMQ RFC 32) encodes binary data as printable text: every 4
// octets, read as a big-endian uint32, become 5 characters of an 85-letter
// alphabet. CURVE keys are 32 octets and so 40 characters of Z85.

const z85Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// z85Decoder maps a character to its value + 1 (0: not in the alphabet).
var z85Decoder = func() (d [256]byte) {
	for i := 0; i < len(z85Alphabet); i++ {
		d[z85Alphabet[i]] = byte(i + 1)
	}
	return d
}()

// ErrZ85 is returned (wrapped) for text that is not valid Z85.
var ErrZ85 = errors.New("zmtp: invalid Z85")

// Z85Encode encodes b, whose length must be a multiple of 4 (RFC 32), as
// Z85 text of 5*len(b)/4 characters.
func Z85Encode(b []byte) (string, error) {
	if len(b)%4 != 0 {
		return "", fmt.Errorf("%w: %d octets is not a multiple of 4", ErrZ85, len(b))
	}
	out := make([]byte, 0, len(b)/4*5)
	for i := 0; i < len(b); i += 4 {
		v := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
		var chunk [5]byte
		for j := 4; j >= 0; j-- {
			chunk[j] = z85Alphabet[v%85]
			v /= 85
		}
		out = append(out, chunk[:]...)
	}
	return string(out), nil
}

// Z85Decode decodes Z85 text, whose length must be a multiple of 5 (RFC
// 32), into 4*len(s)/5 octets. Characters outside the alphabet and groups
// whose value exceeds 2^32-1 are errors.
func Z85Decode(s string) ([]byte, error) {
	if len(s)%5 != 0 {
		return nil, fmt.Errorf("%w: %d characters is not a multiple of 5", ErrZ85, len(s))
	}
	out := make([]byte, 0, len(s)/5*4)
	for i := 0; i < len(s); i += 5 {
		var v uint64
		for j := 0; j < 5; j++ {
			d := z85Decoder[s[i+j]]
			if d == 0 {
				return nil, fmt.Errorf("%w: character %d is not in the Z85 alphabet", ErrZ85, i+j)
			}
			v = v*85 + uint64(d-1)
		}
		if v > 0xFFFFFFFF {
			return nil, fmt.Errorf("%w: group at character %d overflows 32 bits", ErrZ85, i)
		}
		out = append(out, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return out, nil
}
