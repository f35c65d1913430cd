package zmqsocket

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// kubeletWrite publishes data as dir/topology.json the way the kubelet
// updates a ConfigMap volume (its AtomicWriter): the file goes into a new
// timestamped directory, a temporary symlink to that directory is renamed
// over ..data, and topology.json is a symlink to ..data/topology.json.
func kubeletWrite(t *testing.T, dir string, data []byte) {
	t.Helper()
	ts := filepath.Join(dir, fmt.Sprintf("..%d", time.Now().UnixNano()))
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, zmqconfig.FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, zmqconfig.FileName)
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("..data", zmqconfig.FileName), link); err != nil {
			t.Fatal(err)
		}
	}
	if old != "" {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
}

func marshal(t *testing.T, c *zmqconfig.Config) []byte {
	t.Helper()
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// pullers binds n PULL sockets on loopback and returns them with their
// endpoints.
func pullers(t *testing.T, n int) ([]*zmtp.Socket, []string) {
	t.Helper()
	var socks []*zmtp.Socket
	var eps []string
	for range n {
		s, err := zmtp.NewSocket(zmtp.PULL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ep, err := s.Bind("tcp://127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		socks, eps = append(socks, s), append(eps, ep)
	}
	return socks, eps
}

func pushConfig(eps ...string) *zmqconfig.Config {
	return &zmqconfig.Config{Version: zmqconfig.FormatVersion, Topology: "t", Namespace: "ns", Component: "c", Sockets: []zmqconfig.Socket{
		{Name: "in", Type: "PULL", Bind: true, Port: 5000, Endpoints: []string{"tcp://*:5000"}},
		{Name: "out", Type: "PUSH", Endpoints: eps, Options: zmqconfig.Options{ReconnectIvlMillis: ptr[int32](10)}},
	}}
}

// setup writes cfg kubelet-style, opens its "out" socket and follows it.
func setup(t *testing.T, cfg *zmqconfig.Config) (dir string, out *zmtp.Socket, f *Follower) {
	t.Helper()
	dir = t.TempDir()
	kubeletWrite(t, dir, marshal(t, cfg))
	loaded, err := zmqconfig.Load(filepath.Join(dir, zmqconfig.FileName))
	if err != nil {
		t.Fatal(err)
	}
	out, err = Open(*loaded.Socket("out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	f = NewFollower(filepath.Join(dir, zmqconfig.FileName), loaded, 10*time.Millisecond, nil)
	f.Follow("out", out)
	return dir, out, f
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFollowerFollowsKubeletUpdates runs a Follower against a directory
// updated the kubelet's way: endpoints are added and removed on the open
// socket, which then delivers to exactly the listed peers.
func TestFollowerFollowsKubeletUpdates(t *testing.T) {
	peers, eps := pullers(t, 3)
	dir, out, f := setup(t, pushConfig(eps[0], eps[1]))
	var mu sync.Mutex
	var seen []*zmqconfig.Config
	f.OnChange(func(c *zmqconfig.Config) { mu.Lock(); seen = append(seen, c); mu.Unlock() })
	if changed, err := f.Poll(); changed || err != nil {
		t.Fatalf("first Poll of the unchanged file = %v, %v; want no change", changed, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor(t, "two peers", func() bool { return out.Stats().Peers == 2 })
	kubeletWrite(t, dir, marshal(t, pushConfig(eps[1], eps[2])))
	waitFor(t, "the new endpoint set", func() bool {
		return reflect.DeepEqual(out.ConnectedEndpoints(), sorted(eps[1], eps[2]))
	})
	waitFor(t, "peers to follow", func() bool {
		return peers[0].Stats().Peers == 0 && peers[1].Stats().Peers == 1 && peers[2].Stats().Peers == 1
	})
	sendCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	for i := range 100 {
		if err := out.Send(sendCtx, zmtp.NewMsgString(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "100 messages at the two listed peers", func() bool {
		return peers[1].Stats().MsgsIn+peers[2].Stats().MsgsIn == 100
	})
	if n := peers[0].Stats().MsgsIn; n != 0 {
		t.Errorf("the removed peer got %d messages", n)
	}
	st := f.Stats()
	if st.Reloads != 1 || st.Connects != 1 || st.Disconnects != 1 || st.Errors != 0 {
		t.Errorf("stats = %+v; want 1 reload, 1 connect, 1 disconnect, no errors", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || !slices.Equal(seen[0].Socket("out").Endpoints, []string{eps[1], eps[2]}) {
		t.Errorf("OnChange saw %d configurations", len(seen))
	}
	if got := f.Config().Socket("out").Endpoints; !slices.Equal(got, []string{eps[1], eps[2]}) {
		t.Errorf("Config() endpoints = %q", got)
	}
}

func sorted(s ...string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestFollowerIgnoresBadFiles feeds the Follower files it must not apply:
// each leaves the socket's endpoints alone, is counted once however often
// it is polled, and a good file afterwards is applied.
func TestFollowerIgnoresBadFiles(t *testing.T) {
	_, eps := pullers(t, 2)
	good := pushConfig(eps[0])
	other := func(edit func(c *zmqconfig.Config)) []byte {
		c := pushConfig(eps[0], eps[1])
		edit(c)
		return marshal(t, c)
	}
	full := marshal(t, pushConfig(eps[0], eps[1]))
	bad := map[string][]byte{
		"truncated":        full[:len(full)/2],
		"empty":            {},
		"not json":         []byte("endpoints: everywhere"),
		"unknown field":    []byte(strings.Replace(string(full), `"topology"`, `"surprise": 1, "topology"`, 1)),
		"newer version":    other(func(c *zmqconfig.Config) { c.Version = zmqconfig.FormatVersion + 1 }),
		"other component":  other(func(c *zmqconfig.Config) { c.Component = "d" }),
		"socket missing":   other(func(c *zmqconfig.Config) { c.Sockets = c.Sockets[:1] }),
		"type changed":     other(func(c *zmqconfig.Config) { c.Sockets[1].Type = "DEALER" }),
		"now binds":        other(func(c *zmqconfig.Config) { c.Sockets[1].Bind = true }),
		"invalid endpoint": other(func(c *zmqconfig.Config) { c.Sockets[1].Endpoints = []string{eps[0], "udp://x:1"} }),
		"no port":          other(func(c *zmqconfig.Config) { c.Sockets[1].Endpoints = []string{eps[0], "tcp://x"} }),
	}
	for name, data := range bad {
		t.Run(name, func(t *testing.T) {
			dir, out, f := setup(t, good)
			kubeletWrite(t, dir, data)
			for range 3 {
				if changed, err := f.Poll(); changed || err == nil {
					t.Fatalf("Poll = %v, %v; want the file ignored with an error", changed, err)
				}
			}
			if got := out.ConnectedEndpoints(); !slices.Equal(got, []string{eps[0]}) {
				t.Errorf("endpoints = %q; want them unchanged", got)
			}
			if st := f.Stats(); st.Errors != 1 || st.Reloads != 0 {
				t.Errorf("stats = %+v; want exactly one error and no reload", st)
			}
			kubeletWrite(t, dir, full)
			if changed, err := f.Poll(); !changed || err != nil {
				t.Fatalf("Poll of a good file = %v, %v", changed, err)
			}
			if got := out.ConnectedEndpoints(); !slices.Equal(got, sorted(eps...)) {
				t.Errorf("endpoints after the good file = %q", got)
			}
		})
	}
}

// A missing file is an error, reported once, and the sockets carry on.
func TestFollowerMissingFile(t *testing.T) {
	_, eps := pullers(t, 1)
	dir, out, f := setup(t, pushConfig(eps[0]))
	if err := os.Remove(filepath.Join(dir, zmqconfig.FileName)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := f.Poll(); err == nil {
			t.Fatal("Poll of a missing file succeeded")
		}
	}
	if st := f.Stats(); st.Errors != 1 {
		t.Errorf("errors = %d; want 1", st.Errors)
	}
	if got := out.ConnectedEndpoints(); !slices.Equal(got, []string{eps[0]}) {
		t.Errorf("endpoints = %q", got)
	}
}

func TestSyncEndpoints(t *testing.T) {
	s, err := zmtp.NewSocket(zmtp.SUB)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b, c := "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", "tcp://127.0.0.1:3"
	for _, step := range []struct {
		want, added, removed []string
	}{
		{[]string{a, b}, []string{a, b}, nil},
		{[]string{b, c, c}, []string{c}, []string{a}},
		{[]string{b, c}, nil, nil},
		{nil, nil, []string{b, c}},
	} {
		added, removed, err := SyncEndpoints(s, step.want)
		if err != nil || !slices.Equal(added, step.added) || !slices.Equal(removed, step.removed) {
			t.Fatalf("SyncEndpoints(%q) = %q, %q, %v; want %q, %q", step.want, added, removed, err, step.added, step.removed)
		}
	}
	if _, _, err := SyncEndpoints(s, []string{"udp://x:1"}); err == nil {
		t.Error("an invalid endpoint was accepted")
	}
}
