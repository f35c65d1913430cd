package zmtp

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// pipePeer drives the far end of a net.Pipe attached to a Socket, in the
// style of x/net/quic's testConn: a goroutine decodes everything the socket
// writes into a channel (so the socket never blocks on the pipe), and the
// test asserts on it with wantGreeting/wantFrame.
type pipePeer struct {
	t      *testing.T
	nc     net.Conn
	frames chan pipeFrame
	greet  chan []byte
}

type pipeFrame struct {
	flags byte
	body  []byte
	err   error
}

// attachPipe connects s to a pipePeer that completes the handshake as typ.
func attachPipe(t *testing.T, s *Socket, typ SocketType) *pipePeer {
	t.Helper()
	ours, theirs := net.Pipe()
	p := &pipePeer{t: t, nc: theirs, frames: make(chan pipeFrame, 1024), greet: make(chan []byte, 1)}
	t.Cleanup(func() { theirs.Close() })
	go func() {
		br := bufio.NewReader(theirs)
		g := make([]byte, greetingSize)
		if _, err := readFull(br, g); err != nil {
			close(p.greet)
			return
		}
		p.greet <- g
		fr := &frameReader{r: br}
		for {
			flags, body, err := fr.readFrame(-1)
			p.frames <- pipeFrame{flags, body, err}
			if err != nil {
				return
			}
		}
	}()
	attached := make(chan bool, 1)
	go func() {
		if c := s.handshakeConn(ours); c != nil {
			attached <- s.attach(c)
		} else {
			attached <- false
		}
	}()
	p.write(ourGreeting())
	p.write(appendCommand(nil, cmdReady, readyData(typ, nil)))
	if !<-attached {
		t.Fatal("handshake over the pipe failed")
	}
	return p
}

func readFull(br *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := br.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (p *pipePeer) write(b []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pipePeer) wantGreeting() Greeting {
	p.t.Helper()
	select {
	case g := <-p.greet:
		gr, err := parseGreeting(g)
		if err != nil {
			p.t.Fatal(err)
		}
		return gr
	case <-time.After(10 * time.Second):
		p.t.Fatal("no greeting")
	}
	return Greeting{}
}

func (p *pipePeer) wantFrame() pipeFrame {
	p.t.Helper()
	select {
	case f := <-p.frames:
		if f.err != nil {
			p.t.Fatalf("reading from socket: %v", f.err)
		}
		return f
	case <-time.After(10 * time.Second):
		p.t.Fatal("no frame")
	}
	return pipeFrame{}
}

func (p *pipePeer) wantCommand(name string) Command {
	p.t.Helper()
	f := p.wantFrame()
	cmd, err := parseCommand(f.body)
	if f.flags&flagCommand == 0 || err != nil || cmd.Name != name {
		p.t.Fatalf("got frame %x %q; want command %s", f.flags, f.body, name)
	}
	return cmd
}

// TestPipeWhatWeSend: the exact greeting and READY a socket sends, then
// its subscriptions and messages.
func TestPipeWhatWeSend(t *testing.T) {
	sub := newSock(t, SUB)
	_ = sub.Subscribe([]byte("a"))
	_ = sub.Subscribe([]byte("b"))
	p := attachPipe(t, sub, PUB)
	if g := p.wantGreeting(); g != (Greeting{Major: 3, Minor: 1, Mechanism: "NULL"}) {
		t.Fatalf("greeting %+v", g)
	}
	md, err := parseMetadata(p.wantCommand(cmdReady).Data)
	if err != nil || md.Get(PropSocketType) != "SUB" || len(md) != 1 {
		t.Fatalf("READY %v %v", md, err)
	}
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		f := p.wantFrame()
		got[string(f.body)] = true
	}
	if !got["\x01a"] || !got["\x01b"] {
		t.Fatalf("subscriptions %v", got)
	}
	_ = sub.Unsubscribe([]byte("a"))
	if f := p.wantFrame(); string(f.body) != "\x00a" {
		t.Fatalf("cancel %q", f.body)
	}
	// Messages from the pipe are filtered and delivered.
	p.write(appendFrame(appendFrame(nil, 0, []byte("a-dropped")), 0, []byte("b-kept")))
	if m := mustRecv(t, testCtx(t), sub); string(m[0]) != "b-kept" {
		t.Fatalf("got %q", m)
	}
}

// TestPipeDealerIdentityAndEnvelope: a DEALER announces its Identity and
// a REQ frames requests with the empty delimiter.
func TestPipeDealerIdentityAndEnvelope(t *testing.T) {
	ctx := testCtx(t)
	dealer := newSock(t, DEALER, WithIdentity([]byte("worker-7")))
	p := attachPipe(t, dealer, ROUTER)
	p.wantGreeting()
	md, _ := parseMetadata(p.wantCommand(cmdReady).Data)
	if md.Get(PropIdentity) != "worker-7" || md.Get(PropSocketType) != "DEALER" {
		t.Fatalf("READY %v", md)
	}
	req := newSock(t, REQ)
	q := attachPipe(t, req, REP)
	q.wantGreeting()
	q.wantCommand(cmdReady)
	_ = req.Send(ctx, NewMsgString("hi"))
	if f := q.wantFrame(); f.flags != flagMore || len(f.body) != 0 {
		t.Fatalf("delimiter frame %x %q", f.flags, f.body)
	}
	if f := q.wantFrame(); f.flags != 0 || string(f.body) != "hi" {
		t.Fatalf("body frame %x %q", f.flags, f.body)
	}
	q.write(appendFrame(appendFrame(nil, flagMore, nil), 0, []byte("ho")))
	if m := mustRecv(t, ctx, req); len(m) != 1 || string(m[0]) != "ho" {
		t.Fatalf("reply %q", m)
	}
}
