package zmtp

import (
	"bufio"
	"errors"
	"time"
)

// ProbeCurve are the CURVE credentials of a probe (RFC 26): the probe is a
// CURVE client that authenticates with Public/Secret (a server with an
// allow-list must accept that key) and accepts only a server holding the
// secret key of Server. The sidecar agent probes with its component's
// own key pair.
type ProbeCurve struct {
	// Server is the long-term public key the peer must prove it holds.
	Server CurvePublicKey
	// Public and Secret are the probe's long-term key pair; Public must
	// be the public key of Secret.
	Public CurvePublicKey
	Secret CurveSecretKey
}

// probeCurve runs the CURVE part of a probe after the greetings. Probe
// safety (DESIGN.md): a CURVE server commits to the connection on our
// INITIATE, before it tells us its type, so the probe sends INITIATE only
// as the silent partner of opts.Expect; otherwise it stops after WELCOME,
// which already proves the server holds its key. It never sends a message
// frame.
func probeCurve(res *ProbeResult, start time.Time, br *bufio.Reader, bw *bufio.Writer, opts ProbeOptions,
	is30 bool, fail func(string, error) (ProbeResult, error)) (ProbeResult, error) {
	cc := opts.Curve
	if derived, err := cc.Secret.Public(); err != nil || !derived.Equal(cc.Public) {
		return fail("handshake", errors.New("zmtp: ProbeCurve.Public is not the public key of ProbeCurve.Secret"))
	}
	client := &curveClient{opts: &curveOptions{role: curveRoleClient, public: cc.Public, secret: cc.Secret, serverKey: cc.Server}}
	fr := &frameReader{r: br}
	h := &handshakeIO{fr: fr, bw: bw}
	st, err := client.hello(h)
	if err != nil {
		return fail("handshake", err)
	}
	defer st.clear()
	res.ServerAuthenticated = true
	res.Latency = time.Since(start)
	silent, ok := SilentPeer(opts.Expect)
	if opts.Expect == 0 || !ok || opts.NeverSendReady {
		return *res, nil
	}
	var peer SocketType
	md, codec, err := client.initiate(h, st, readyData(silent, nil), func(md Metadata) error {
		t, err := ParseSocketType(md.Get(PropSocketType))
		peer = t
		return err
	})
	if err != nil {
		return fail("handshake", err)
	}
	res.SentReady = true
	res.Latency = time.Since(start)
	res.Metadata = md
	res.SocketType = peer
	if id := md.Get(PropIdentity); id != "" {
		res.Identity = []byte(id)
	}
	if opts.Mode != ProbePing || is30 {
		return *res, nil
	}
	rtt, err := pingPong(codec, fr, bw)
	if err != nil {
		return fail("ping", err)
	}
	res.PingRTT = rtt
	return *res, nil
}
