package zmtp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/nacl/box"
)

// curveClient is the client side of one CURVE handshake (RFC 26).
type curveClient struct {
	opts *curveOptions
}

func (*curveClient) name() string   { return MechanismCurve }
func (*curveClient) asServer() bool { return false }

// Client short nonces: HELLO 1, INITIATE 2, MESSAGEs from 3 (libzmq's
// sequence).
const (
	helloNonce    = 1
	initiateNonce = 2
)

// helloData builds HELLO: version, padding, C', nonce, Box[64 zeros](C'→S).
func helloData(clientShort, clientShortSecret, server *[32]byte) []byte {
	d := make([]byte, 0, helloDataSize)
	d = append(d, 1, 0)
	d = append(d, make([]byte, helloPadding)...)
	d = append(d, clientShort[:]...)
	d = binary.BigEndian.AppendUint64(d, helloNonce)
	var zeros [helloZeros]byte
	return box.Seal(d, zeros[:], shortNonce(noncePrefixHello, helloNonce), server, clientShortSecret)
}

// parseWelcome opens WELCOME with the server's long-term public key and
// returns S' and the cookie. A box that does not open means the server
// does not hold the secret key of the public key we were given.
func parseWelcome(data []byte, server, clientShortSecret *[32]byte) (serverShort [32]byte, cookie []byte, err error) {
	if len(data) != welcomeDataSize {
		return serverShort, nil, curveErr(fmt.Sprintf("WELCOME of %d octets, want %d", len(data), welcomeDataSize))
	}
	plain, ok := box.Open(nil, data[16:], longNonce(noncePrefixWelcome, data[:16]), server, clientShortSecret)
	if !ok {
		return serverShort, nil, authErr("WELCOME box does not open (the server does not hold the expected key)")
	}
	copy(serverShort[:], plain[:32])
	return serverShort, plain[32:], nil
}

// parseReady opens READY and returns the server's metadata and nonce.
func parseReady(data []byte, key *[32]byte) (Metadata, uint64, error) {
	if len(data) < readyMinSize {
		return nil, 0, curveErr(fmt.Sprintf("READY of %d octets, shorter than %d", len(data), readyMinSize))
	}
	nonce := binary.BigEndian.Uint64(data[:8])
	if nonce == 0 {
		return nil, 0, curveErr("READY nonce zero")
	}
	plain, ok := box.OpenAfterPrecomputation(nil, data[8:], shortNonce(noncePrefixReady, nonce), key)
	if !ok {
		return nil, 0, authErr("READY box does not open")
	}
	md, err := parseMetadata(plain)
	return md, nonce, err
}

func (c *curveClient) handshake(h *handshakeIO, local []byte, check func(Metadata) error) (Metadata, frameCodec, error) {
	st, err := c.hello(h)
	if err != nil {
		return nil, nil, err
	}
	defer st.clear()
	return c.initiate(h, st, local, check)
}

// curveWelcomed is a client's state after a WELCOME that opened: the
// server has proved it holds the secret key of the public key we were
// given, and nothing has yet committed the server to the connection.
type curveWelcomed struct {
	shortPub, shortSec *[32]byte
	serverShort        [32]byte
	cookie             []byte
}

// clear wipes the short-term secret key.
func (w *curveWelcomed) clear() { clear(w.shortSec[:]) }

// hello sends HELLO and reads WELCOME (RFC 26 §"The HELLO Command",
// §"The WELCOME Command").
func (c *curveClient) hello(h *handshakeIO) (*curveWelcomed, error) {
	o := c.opts
	shortPub, shortSec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("zmtp: CURVE short-term key: %w", err)
	}
	st := &curveWelcomed{shortPub: shortPub, shortSec: shortSec}
	server := (*[32]byte)(&o.serverKey)
	if err := h.writeCommand(cmdHello, helloData(shortPub, shortSec, server)); err != nil {
		st.clear()
		return nil, err
	}
	data, err := expectCommand(h, cmdWelcome)
	if err != nil {
		st.clear()
		return nil, err
	}
	st.serverShort, st.cookie, err = parseWelcome(data, server, shortSec)
	if err != nil {
		st.clear()
		return nil, err
	}
	return st, nil
}

// initiate sends INITIATE with our metadata (local) and reads the
// server's READY (RFC 26 §"The INITIATE Command", §"The READY Command").
func (c *curveClient) initiate(h *handshakeIO, st *curveWelcomed, local []byte, check func(Metadata) error) (Metadata, frameCodec, error) {
	o := c.opts
	shortPub, shortSec, serverShort, cookie := st.shortPub, st.shortSec, st.serverShort, st.cookie

	// Vouch: Box[C' + S](C→S'), proving our long-term key to the server.
	vouchNonce, err := randomLong()
	if err != nil {
		return nil, nil, err
	}
	var vouchPlain [64]byte
	copy(vouchPlain[:32], shortPub[:])
	copy(vouchPlain[32:], o.serverKey[:])
	vouch := append(make([]byte, 0, vouchSize), vouchNonce[:]...)
	vouch = box.Seal(vouch, vouchPlain[:], longNonce(noncePrefixVouch, vouchNonce[:]), &serverShort, (*[32]byte)(&o.secret))

	key := new([32]byte)
	box.Precompute(key, &serverShort, shortSec)
	plain := make([]byte, 0, 32+vouchSize+len(local))
	plain = append(append(append(plain, o.public[:]...), vouch...), local...)
	id := append(make([]byte, 0, cookieSize+8+box.Overhead+len(plain)), cookie...)
	id = binary.BigEndian.AppendUint64(id, initiateNonce)
	id = box.SealAfterPrecomputation(id, plain, shortNonce(noncePrefixInitiate, initiateNonce), key)
	if err := h.writeCommand(cmdInitiate, id); err != nil {
		clear(key[:])
		return nil, nil, err
	}

	data, err := expectCommand(h, cmdReady)
	if err != nil {
		clear(key[:])
		return nil, nil, err
	}
	md, nonce, err := parseReady(data, key)
	if err == nil {
		// After the server's READY there is no ERROR to send: a peer we
		// refuse is simply closed.
		err = check(md)
	}
	if err != nil {
		clear(key[:])
		return nil, nil, err
	}
	return md, &curveCodec{
		key:        key,
		sendPrefix: noncePrefixMsgC, sendNonce: initiateNonce + 1,
		recvPrefix: noncePrefixMsgS, peerNonce: nonce,
	}, nil
}
