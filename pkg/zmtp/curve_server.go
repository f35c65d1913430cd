package zmtp

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
)

// curveServer is the server side of one CURVE handshake (RFC 26).
type curveServer struct {
	opts *curveOptions
}

func (*curveServer) name() string   { return MechanismCurve }
func (*curveServer) asServer() bool { return true }

// helloMsg is a parsed HELLO.
type helloMsg struct {
	clientShort CurvePublicKey // C'
	nonce       uint64
}

// parseHello checks a HELLO's shape and opens its box with the server's
// long-term secret key: only a client that knows our public key gets a
// WELCOME.
func parseHello(data []byte, secret *CurveSecretKey) (helloMsg, error) {
	var hm helloMsg
	// RFC 26: HELLO is exactly 200 octets; version 1.0.
	if len(data) != helloDataSize {
		return hm, curveErr(fmt.Sprintf("HELLO of %d octets, want %d", len(data), helloDataSize))
	}
	if data[0] != 1 || data[1] != 0 {
		return hm, curveErr(fmt.Sprintf("HELLO version %d.%d, want 1.0", data[0], data[1]))
	}
	var pad [helloPadding]byte
	if subtle.ConstantTimeCompare(data[2:2+helloPadding], pad[:]) != 1 {
		return hm, curveErr("HELLO padding is not zero")
	}
	p := data[2+helloPadding:]
	copy(hm.clientShort[:], p[:32])
	hm.nonce = binary.BigEndian.Uint64(p[32:40])
	var zeros [helloZeros]byte
	plain, ok := box.Open(nil, p[40:], shortNonce(noncePrefixHello, hm.nonce), (*[32]byte)(&hm.clientShort), (*[32]byte)(secret))
	if !ok || subtle.ConstantTimeCompare(plain, zeros[:]) != 1 {
		return hm, authErr("HELLO box does not open with our key (the client uses a wrong server key)")
	}
	return hm, nil
}

// initiateMsg is a parsed and authenticated INITIATE.
type initiateMsg struct {
	client   CurvePublicKey // C, authenticated by the vouch
	nonce    uint64
	meta     Metadata
	shortKey *[32]byte // precomputed (C', s')
}

// parseInitiate opens the cookie (which must be the one sent on this
// connection: cookieNonce), the INITIATE box and the vouch. Every failure
// is an authentication failure except a malformed command.
func parseInitiate(data []byte, cookieNonce []byte, clientShort *CurvePublicKey, helloNonce uint64, serverPub *CurvePublicKey, ck *cookieKeys) (initiateMsg, error) {
	var im initiateMsg
	if len(data) < initiateMinSize {
		return im, curveErr(fmt.Sprintf("INITIATE of %d octets, shorter than %d", len(data), initiateMinSize))
	}
	cookie, rest := data[:cookieSize], data[cookieSize:]
	// A cookie from another connection (a replayed INITIATE) has another
	// nonce; cookie nonces are random, and only ours open with K.
	if subtle.ConstantTimeCompare(cookie[:16], cookieNonce) != 1 {
		return im, authErr("INITIATE cookie is not the one sent on this connection")
	}
	keys, n, err := ck.candidates()
	if err != nil {
		return im, err
	}
	defer clear(keys[:])
	var inCookie []byte
	for i := 0; i < n; i++ {
		if p, ok := secretbox.Open(nil, cookie[16:], longNonce(noncePrefixCookie, cookie[:16]), &keys[i]); ok {
			inCookie = p
			break
		}
	}
	if inCookie == nil {
		return im, authErr("INITIATE cookie does not open (expired or forged)")
	}
	defer clear(inCookie)
	if subtle.ConstantTimeCompare(inCookie[:32], clientShort[:]) != 1 {
		return im, authErr("INITIATE cookie names another client short-term key")
	}
	var serverShortSecret [32]byte
	copy(serverShortSecret[:], inCookie[32:64])
	defer clear(serverShortSecret[:])

	im.nonce = binary.BigEndian.Uint64(rest[:8])
	if im.nonce <= helloNonce {
		return im, authErr("INITIATE nonce not above HELLO's (replayed)")
	}
	im.shortKey = new([32]byte)
	box.Precompute(im.shortKey, (*[32]byte)(clientShort), &serverShortSecret)
	plain, ok := box.OpenAfterPrecomputation(nil, rest[8:], shortNonce(noncePrefixInitiate, im.nonce), im.shortKey)
	if !ok {
		clear(im.shortKey[:])
		return im, authErr("INITIATE box does not open")
	}
	// plain = C (32) + vouch (96) + metadata.
	copy(im.client[:], plain[:32])
	vouch := plain[32 : 32+vouchSize]
	inVouch, ok := box.Open(nil, vouch[16:], longNonce(noncePrefixVouch, vouch[:16]), (*[32]byte)(&im.client), &serverShortSecret)
	// RFC 26: the vouch is Box[C' + S](C→S'): it proves the holder of C
	// speaks through C' to this server.
	if !ok || subtle.ConstantTimeCompare(inVouch[:32], clientShort[:]) != 1 || subtle.ConstantTimeCompare(inVouch[32:64], serverPub[:]) != 1 {
		clear(im.shortKey[:])
		return im, authErr("INITIATE vouch does not match")
	}
	md, err := parseMetadata(plain[32+vouchSize:])
	if err != nil {
		clear(im.shortKey[:])
		return im, err
	}
	im.meta = md
	return im, nil
}

func (s *curveServer) handshake(h *handshakeIO, local []byte, check func(Metadata) error) (Metadata, frameCodec, error) {
	o := s.opts
	data, err := expectCommand(h, cmdHello)
	if err != nil {
		return nil, nil, err
	}
	hm, err := parseHello(data, &o.secret)
	if err != nil {
		// No answer to a client that cannot prove it knows our key.
		return nil, nil, err
	}

	// WELCOME: a fresh short-term pair; its secret leaves this function
	// only inside the cookie, sealed with the socket's cookie key.
	cookieNonce, err := s.welcome(h, &hm.clientShort)
	if err != nil {
		return nil, nil, err
	}

	data, err = expectCommand(h, cmdInitiate)
	if err != nil {
		return nil, nil, err
	}
	im, err := parseInitiate(data, cookieNonce[:], &hm.clientShort, hm.nonce, &o.public, o.cookies)
	if err != nil {
		return nil, nil, err
	}
	if f := o.authorizer; f != nil {
		if aerr := f(h.remote, im.client); aerr != nil {
			clear(im.shortKey[:])
			_ = h.writeCommand(cmdError, errorData(curveZAPRefusal))
			return nil, nil, &ProtocolError{Stage: "handshake", Reason: "CURVE: client refused: " + aerr.Error(), Err: ErrAuth}
		}
	}
	if err := check(im.meta); err != nil {
		clear(im.shortKey[:])
		sendRefusal(h, err)
		return nil, nil, err
	}
	// READY: server short nonces start at 1, as libzmq's do.
	const readyNonce = 1
	rd := binary.BigEndian.AppendUint64(nil, readyNonce)
	rd = box.SealAfterPrecomputation(rd, local, shortNonce(noncePrefixReady, readyNonce), im.shortKey)
	if err := h.writeCommand(cmdReady, rd); err != nil {
		clear(im.shortKey[:])
		return nil, nil, err
	}
	return im.meta, &curveCodec{
		key:        im.shortKey,
		sendPrefix: noncePrefixMsgS, sendNonce: readyNonce + 1,
		recvPrefix: noncePrefixMsgC, peerNonce: im.nonce,
	}, nil
}

// welcome sends WELCOME and returns the cookie's nonce, the only thing
// the server remembers of this connection until INITIATE.
func (s *curveServer) welcome(h *handshakeIO, clientShort *CurvePublicKey) ([16]byte, error) {
	o := s.opts
	shortPub, shortSec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return [16]byte{}, fmt.Errorf("zmtp: CURVE short-term key: %w", err)
	}
	defer clear(shortSec[:])
	k, err := o.cookies.current()
	if err != nil {
		return [16]byte{}, err
	}
	defer clear(k[:])
	cookieNonce, err := randomLong()
	if err != nil {
		return cookieNonce, err
	}
	var inCookie [64]byte
	copy(inCookie[:32], clientShort[:])
	copy(inCookie[32:], shortSec[:])
	defer clear(inCookie[:])
	cookie := append(make([]byte, 0, cookieSize), cookieNonce[:]...)
	cookie = secretbox.Seal(cookie, inCookie[:], longNonce(noncePrefixCookie, cookieNonce[:]), &k)

	welcomeNonce, err := randomLong()
	if err != nil {
		return cookieNonce, err
	}
	plain := append(append(make([]byte, 0, 32+cookieSize), shortPub[:]...), cookie...)
	wd := append(make([]byte, 0, welcomeDataSize), welcomeNonce[:]...)
	wd = box.Seal(wd, plain, longNonce(noncePrefixWelcome, welcomeNonce[:]), (*[32]byte)(clientShort), (*[32]byte)(&o.secret))
	return cookieNonce, h.writeCommand(cmdWelcome, wd)
}
