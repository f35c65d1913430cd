package zmtp

import (
	"runtime"
	"testing"

	"github.com/zmq-operator/zmq-operator/internal/blackhole"
)

// deadAddr returns a loopback host:port whose SYNs go unanswered, like
// the address of a deleted pod.
func deadAddr(t *testing.T) string {
	t.Helper()
	addr, release, err := blackhole.Listen()
	if err != nil {
		if runtime.GOOS != "linux" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(release)
	return addr
}
