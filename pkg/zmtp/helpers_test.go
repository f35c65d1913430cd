package zmtp

import (
	"context"
	"testing"
	"time"
)

// testCtx returns a context bounded so a broken test fails instead of hanging.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newSock(t testing.TB, typ SocketType, opts ...Option) *Socket {
	t.Helper()
	s, err := NewSocket(typ, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func bind(t testing.TB, s *Socket) string {
	t.Helper()
	ep, err := s.Bind("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func connect(t testing.TB, s *Socket, ep string) {
	t.Helper()
	if err := s.Connect(ep); err != nil {
		t.Fatal(err)
	}
}

// waitPeers waits until s has n peers.
func waitPeers(t testing.TB, s *Socket, n int) {
	t.Helper()
	ctx := testCtx(t)
	for s.Stats().Peers < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%v: %d peers, want %d", s.Type(), s.Stats().Peers, n)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func mustRecv(t testing.TB, ctx context.Context, s *Socket) Msg {
	t.Helper()
	m, err := s.Recv(ctx)
	if err != nil {
		t.Fatalf("%v Recv: %v", s.Type(), err)
	}
	return m
}
