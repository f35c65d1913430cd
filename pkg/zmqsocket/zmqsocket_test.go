package zmqsocket

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

func ptr[T any](v T) *T { return &v }

func TestKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   zmqconfig.Options
		want *net.KeepAliveConfig
	}{
		{"unset", zmqconfig.Options{}, nil},
		{"enabled with idle", zmqconfig.Options{TCPKeepalive: ptr(true), TCPKeepaliveIdleSec: ptr[int32](60)},
			&net.KeepAliveConfig{Enable: true, Idle: time.Minute}},
		{"only a count turns it on", zmqconfig.Options{TCPKeepaliveCount: ptr[int32](4)}, &net.KeepAliveConfig{Enable: true, Count: 4}},
		{"explicitly off", zmqconfig.Options{TCPKeepalive: ptr(false), TCPKeepaliveIntvlSec: ptr[int32](5)},
			&net.KeepAliveConfig{Enable: false, Interval: 5 * time.Second}},
	} {
		got, ok := keepAlive(tc.in)
		if ok != (tc.want != nil) || (ok && got != *tc.want) {
			t.Errorf("%s: keepAlive = %+v, %v; want %+v", tc.name, got, ok, tc.want)
		}
	}
}

// TestOpen opens a bound and a connecting socket from configurations and
// moves a message between them.
func TestOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	pull, err := Open(zmqconfig.Socket{Name: "in", Type: "PULL", Bind: true, Port: port, Endpoints: []string{ep},
		Options: zmqconfig.Options{RcvHWM: ptr[int32](10), TCPKeepalive: ptr(true)}})
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	push, err := Open(zmqconfig.Socket{Name: "out", Type: "PUSH", Endpoints: []string{ep}, Options: zmqconfig.Options{LingerMillis: ptr[int32](-1)}})
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := push.Send(ctx, zmtp.NewMsgString("hello")); err != nil {
		t.Fatal(err)
	}
	m, err := pull.Recv(ctx)
	if err != nil || string(m[0]) != "hello" {
		t.Fatalf("got %q, %v", m, err)
	}
	if _, err := Open(zmqconfig.Socket{Name: "x", Type: "STREAM"}); err == nil {
		t.Error("an unknown socket type opened")
	}
}
