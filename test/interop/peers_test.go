package interop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	gozmq "github.com/go-zeromq/zmq4"
	czmq "github.com/pebbe/zmq4"

	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// peer is one socket of any of the three implementations under test, with a
// common, timeout-bounded API.
type peer interface {
	bind(t *testing.T) string
	connect(t *testing.T, ep string)
	send(frames ...[]byte) error
	// recv returns the next message or an error after timeout.
	recv(timeout time.Duration) ([][]byte, error)
	subscribe(prefix string)
	close()
}

type impl struct {
	name string
	new  func(t *testing.T, typ zmtp.SocketType, identity string) peer
}

var (
	ours   = impl{"ours", newOurs}
	libzmq = impl{"libzmq", newLibzmq}
	gozmq4 = impl{"gozmq4", newGozmq}
)

var errTimeout = errors.New("recv timeout")

// --- ours ---

type oursPeer struct{ s *zmtp.Socket }

func newOurs(t *testing.T, typ zmtp.SocketType, identity string) peer {
	opts := []zmtp.Option{zmtp.WithLinger(time.Second)}
	if identity != "" {
		opts = append(opts, zmtp.WithIdentity([]byte(identity)))
	}
	s, err := zmtp.NewSocket(typ, opts...)
	if err != nil {
		t.Fatal(err)
	}
	p := &oursPeer{s}
	t.Cleanup(p.close)
	return p
}

func (p *oursPeer) bind(t *testing.T) string {
	ep, err := p.s.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ep
}
func (p *oursPeer) connect(t *testing.T, ep string) {
	if err := p.s.Connect(ep); err != nil {
		t.Fatal(err)
	}
}
func (p *oursPeer) send(frames ...[]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.s.Send(ctx, zmtp.NewMsg(frames...))
}
func (p *oursPeer) recv(timeout time.Duration) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, err := p.s.Recv(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, errTimeout
	}
	return m, err
}
func (p *oursPeer) subscribe(prefix string) {
	if p.s.Type() == zmtp.XSUB {
		_ = p.send(append([]byte{1}, prefix...))
		return
	}
	_ = p.s.Subscribe([]byte(prefix))
}
func (p *oursPeer) close() { p.s.Close() }

// --- libzmq via pebbe/zmq4 (cgo) ---

var czmqTypes = map[zmtp.SocketType]czmq.Type{
	zmtp.PAIR: czmq.PAIR, zmtp.PUB: czmq.PUB, zmtp.SUB: czmq.SUB, zmtp.REQ: czmq.REQ,
	zmtp.REP: czmq.REP, zmtp.DEALER: czmq.DEALER, zmtp.ROUTER: czmq.ROUTER,
	zmtp.PULL: czmq.PULL, zmtp.PUSH: czmq.PUSH, zmtp.XPUB: czmq.XPUB, zmtp.XSUB: czmq.XSUB,
}

type libzmqPeer struct {
	mu     sync.Mutex // libzmq sockets are not thread-safe
	s      *czmq.Socket
	typ    zmtp.SocketType
	closed bool
}

func newLibzmq(t *testing.T, typ zmtp.SocketType, identity string) peer {
	s, err := czmq.NewSocket(czmqTypes[typ])
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetLinger(time.Second)
	_ = s.SetReconnectIvl(50 * time.Millisecond)
	if identity != "" {
		_ = s.SetIdentity(identity)
	}
	p := &libzmqPeer{s: s, typ: typ}
	t.Cleanup(p.close)
	return p
}

func (p *libzmqPeer) bind(t *testing.T) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.s.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	ep, err := p.s.GetLastEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	return ep
}
func (p *libzmqPeer) connect(t *testing.T, ep string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.s.Connect(ep); err != nil {
		t.Fatal(err)
	}
}
func (p *libzmqPeer) send(frames ...[]byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := make([]interface{}, len(frames))
	for i, f := range frames {
		parts[i] = f
	}
	_ = p.s.SetSndtimeo(5 * time.Second)
	_, err := p.s.SendMessage(parts...)
	return err
}
func (p *libzmqPeer) recv(timeout time.Duration) ([][]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.s.SetRcvtimeo(timeout)
	m, err := p.s.RecvMessageBytes(0)
	if err != nil && czmq.AsErrno(err) == czmq.Errno(11) { // EAGAIN
		return nil, errTimeout
	}
	return m, err
}
func (p *libzmqPeer) subscribe(prefix string) {
	if p.typ == zmtp.XSUB {
		_ = p.send(append([]byte{1}, prefix...))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.s.SetSubscribe(prefix)
}
func (p *libzmqPeer) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		_ = p.s.SetLinger(0)
		_ = p.s.Close()
	}
}

// --- go-zeromq/zmq4 v0.17.0 (pure Go) ---

type gozmqPeer struct {
	s      gozmq.Socket
	typ    zmtp.SocketType
	msgs   chan gozmq.Msg
	once   sync.Once
	closed chan struct{}
}

func newGozmq(t *testing.T, typ zmtp.SocketType, identity string) peer {
	ctx := context.Background()
	opts := []gozmq.Option{gozmq.WithDialerMaxRetries(-1), gozmq.WithDialerRetry(50 * time.Millisecond)}
	if identity != "" {
		opts = append(opts, gozmq.WithID(gozmq.SocketIdentity(identity)))
	}
	var s gozmq.Socket
	switch typ {
	case zmtp.PAIR:
		s = gozmq.NewPair(ctx, opts...)
	case zmtp.PUB:
		s = gozmq.NewPub(ctx, opts...)
	case zmtp.SUB:
		s = gozmq.NewSub(ctx, opts...)
	case zmtp.REQ:
		s = gozmq.NewReq(ctx, opts...)
	case zmtp.REP:
		s = gozmq.NewRep(ctx, opts...)
	case zmtp.DEALER:
		s = gozmq.NewDealer(ctx, opts...)
	case zmtp.ROUTER:
		s = gozmq.NewRouter(ctx, opts...)
	case zmtp.PULL:
		s = gozmq.NewPull(ctx, opts...)
	case zmtp.PUSH:
		s = gozmq.NewPush(ctx, opts...)
	case zmtp.XPUB:
		s = gozmq.NewXPub(ctx, opts...)
	case zmtp.XSUB:
		s = gozmq.NewXSub(ctx, opts...)
	}
	p := &gozmqPeer{s: s, typ: typ, closed: make(chan struct{})}
	t.Cleanup(p.close)
	return p
}

func (p *gozmqPeer) bind(t *testing.T) string {
	if err := p.s.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return "tcp://" + p.s.Addr().String()
}
func (p *gozmqPeer) connect(t *testing.T, ep string) {
	// zmq4's Dial blocks until connected (or retries run out), so run it in
	// the background like ZeroMQ's connect.
	go func() { _ = p.s.Dial(ep) }()
}
func (p *gozmqPeer) send(frames ...[]byte) error {
	if len(frames) == 1 {
		return p.s.Send(gozmq.NewMsgFrom(frames...))
	}
	return p.s.SendMulti(gozmq.NewMsgFrom(frames...))
}

// recv runs zmq4's blocking Recv in one long-lived goroutine, so a timeout
// does not lose the message that arrives later.
func (p *gozmqPeer) recv(timeout time.Duration) ([][]byte, error) {
	p.once.Do(func() {
		p.msgs = make(chan gozmq.Msg, 1024)
		go func() {
			for {
				m, err := p.s.Recv()
				if err != nil {
					select {
					case <-p.closed:
						return
					default:
					}
					if strings.Contains(err.Error(), "closed") {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				select {
				case p.msgs <- m:
				case <-p.closed:
					return
				}
			}
		}()
	})
	select {
	case m := <-p.msgs:
		return m.Frames, nil
	case <-time.After(timeout):
		return nil, errTimeout
	}
}
func (p *gozmqPeer) subscribe(prefix string) {
	if p.typ == zmtp.XSUB {
		_ = p.send(append([]byte{1}, prefix...))
		return
	}
	_ = p.s.SetOption(gozmq.OptionSubscribe, prefix)
}
func (p *gozmqPeer) close() {
	select {
	case <-p.closed:
	default:
		close(p.closed)
		_ = p.s.Close()
	}
}

func frames(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func show(m [][]byte) string {
	parts := make([]string, len(m))
	for i, f := range m {
		parts[i] = fmt.Sprintf("%q", f)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
