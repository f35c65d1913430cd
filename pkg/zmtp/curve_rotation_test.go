package zmtp

import (
	"sync/atomic"
	"testing"
)

// TestCurveKeyRotationOverlap plays a client key rotation on real sockets:
// during the overlap the server's allow-list holds the old and the new key
// and a client with each is connected and served at the same time; once
// the overlap ends (the list holds only the new key) the connection already
// up is kept, but a new connection with the old key is refused.
func TestCurveKeyRotationOverlap(t *testing.T) {
	srv, oldKey, newKey := newCurveKeys(t), newCurveKeys(t), newCurveKeys(t)
	ctx := testCtx(t)
	var allowed atomic.Pointer[CurveAuthorizer]
	overlap := CurveAllowList(oldKey.pub, newKey.pub)
	allowed.Store(&overlap)
	auth := func(remote string, k CurvePublicKey) error { return (*allowed.Load())(remote, k) }
	push := newSock(t, PUSH, WithCurveServer(srv.sec), WithCurveAuthorizer(auth))
	ep := bind(t, push)

	oldPull := newSock(t, PULL, curveClientOpt(srv.pub, oldKey))
	newPull := newSock(t, PULL, curveClientOpt(srv.pub, newKey))
	connect(t, oldPull, ep)
	connect(t, newPull, ep)
	waitPeers(t, push, 2)
	for i := 0; i < 4; i++ {
		if err := push.Send(ctx, NewMsgString("task")); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*Socket{oldPull, newPull} {
		if m := mustRecv(t, ctx, p); string(m[0]) != "task" {
			t.Fatalf("got %q", m[0])
		}
	}
	if f := push.Stats().AuthFailures; f != 0 {
		t.Fatalf("%d refusals during the overlap", f)
	}

	// The overlap ends.
	after := CurveAllowList(newKey.pub)
	allowed.Store(&after)
	late := newSock(t, PULL, curveClientOpt(srv.pub, oldKey))
	connect(t, late, ep)
	waitStat(t, func() bool { return push.Stats().AuthFailures >= 1 && late.Stats().AuthFailures >= 1 })
	if late.Stats().Peers != 0 {
		t.Fatal("the old key got a new connection after the overlap")
	}
	again := newSock(t, PULL, curveClientOpt(srv.pub, newKey))
	connect(t, again, ep)
	waitPeers(t, push, 3)
}
