package zmqsocket

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// This file follows the mounted configuration file as the kubelet updates
// it (endpointUpdates: Live): the file is re-read at a bounded interval,
// and each followed socket is connected to the endpoints the file lists for
// it that it lacks, then disconnected from those it no longer lists.
//
// The kubelet writes a ConfigMap volume's files into a new timestamped
// directory and then renames the ..data symlink to it, so a reader that
// opens zmqconfig.Path sees either the old or the new file, never a mix.
// A file that still fails to parse or does not describe the same
// component (a hand-edited mount, a newer format version) is ignored: the
// sockets keep their endpoints, the error is logged once per distinct
// content and counted in FollowStats.Errors.

// DefaultFollowInterval is how often a Follower re-reads the file. The
// kubelet's own propagation delay (its sync period plus the ConfigMap cache
// TTL, typically up to a minute or more) dominates; reading a small file
// every two seconds costs nothing measurable.
const DefaultFollowInterval = 2 * time.Second

// FollowStats are a Follower's counters since it was created.
type FollowStats struct {
	// Reloads counts file contents applied (a changed configuration).
	Reloads uint64
	// Errors counts distinct file contents that were ignored because they
	// could not be read, parsed, or did not fit the open sockets.
	Errors uint64
	// Connects and Disconnects count endpoints added to and removed from
	// the followed sockets.
	Connects, Disconnects uint64
}

// Follower keeps the connect endpoints of open sockets equal to those the
// configuration file lists, and tells observers about every new
// configuration. It is safe for concurrent use.
type Follower struct {
	path     string
	interval time.Duration
	log      *slog.Logger

	pollMu  sync.Mutex // serialises Poll
	lastBad string     // what was ignored last (under pollMu), so it is reported once

	mu        sync.Mutex // guards the fields below
	cur       *zmqconfig.Config
	sockets   map[string]*zmtp.Socket
	observers []func(*zmqconfig.Config)

	reloads, errors, connects, disconnects atomic.Uint64
}

// NewFollower returns a Follower of the file at path (usually
// zmqconfig.Path) whose current configuration is cur, the one the sockets
// were opened from. interval <= 0 means DefaultFollowInterval; log nil
// means slog.Default().
func NewFollower(path string, cur *zmqconfig.Config, interval time.Duration, log *slog.Logger) *Follower {
	if interval <= 0 {
		interval = DefaultFollowInterval
	}
	if log == nil {
		log = slog.Default()
	}
	return &Follower{path: path, cur: cur, interval: interval, log: log, sockets: map[string]*zmtp.Socket{}}
}

// Follow makes the connecting socket s, opened from the configuration's
// socket of that name, follow that socket's endpoints. Bound sockets are
// not followed: a bind changes only with a pod restart.
func (f *Follower) Follow(name string, s *zmtp.Socket) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sockets[name] = s
}

// OnChange registers fn, called with every new configuration after the
// sockets follow it, in the polling goroutine.
func (f *Follower) OnChange(fn func(*zmqconfig.Config)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observers = append(f.observers, fn)
}

// Config returns the configuration applied last.
func (f *Follower) Config() *zmqconfig.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

// Stats returns the Follower's counters.
func (f *Follower) Stats() FollowStats {
	return FollowStats{Reloads: f.reloads.Load(), Errors: f.errors.Load(), Connects: f.connects.Load(), Disconnects: f.disconnects.Load()}
}

// Run polls the file every interval until ctx ends.
func (f *Follower) Run(ctx context.Context) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = f.Poll()
		}
	}
}

// Poll reads the file once and applies it if it changed. It reports
// whether a new configuration was applied, or why the file was ignored.
func (f *Follower) Poll() (bool, error) {
	f.pollMu.Lock()
	defer f.pollMu.Unlock()
	f.mu.Lock()
	cur, sockets, observers := f.cur, maps.Clone(f.sockets), slices.Clone(f.observers)
	f.mu.Unlock()

	data, err := os.ReadFile(f.path)
	if err != nil {
		return false, f.ignore("read:"+err.Error(), fmt.Errorf("reading %s: %w", f.path, err))
	}
	next, err := zmqconfig.Parse(data)
	if err == nil {
		err = fits(cur, next, sockets)
	}
	if err != nil {
		return false, f.ignore("data:"+string(data), err)
	}
	f.lastBad = ""
	if reflect.DeepEqual(next, cur) {
		return false, nil
	}
	for name, s := range sockets {
		f.sync(name, s, next.Socket(name).Endpoints)
	}
	f.mu.Lock()
	f.cur = next
	f.mu.Unlock()
	f.reloads.Add(1)
	for _, fn := range observers {
		fn(next)
	}
	return true, nil
}

// ignore counts and logs err, once for as long as the same problem
// (what) persists.
func (f *Follower) ignore(what string, err error) error {
	if what == f.lastBad {
		return err
	}
	f.lastBad = what
	f.errors.Add(1)
	f.log.Error("ignoring the socket configuration file; sockets keep their endpoints", "path", f.path, "err", err)
	return err
}

// fits checks that next describes the same component with the followed
// sockets still connecting, of the same types, to valid endpoints.
func fits(cur, next *zmqconfig.Config, sockets map[string]*zmtp.Socket) error {
	if cur != nil && (next.Topology != cur.Topology || next.Namespace != cur.Namespace || next.Component != cur.Component) {
		return fmt.Errorf("the file describes %s/%s component %s, not %s/%s component %s",
			next.Namespace, next.Topology, next.Component, cur.Namespace, cur.Topology, cur.Component)
	}
	for name, s := range sockets {
		ns := next.Socket(name)
		switch {
		case ns == nil:
			return fmt.Errorf("socket %s is missing", name)
		case ns.Bind:
			return fmt.Errorf("socket %s binds in the file, but the open socket connects", name)
		case ns.Type != s.Type().String():
			return fmt.Errorf("socket %s is %s in the file, but the open socket is %s", name, ns.Type, s.Type())
		}
		for _, ep := range ns.Endpoints {
			if err := checkEndpoint(ep); err != nil {
				return fmt.Errorf("socket %s: %w", name, err)
			}
		}
	}
	return nil
}

// checkEndpoint accepts what zmtp can connect to: tcp://host:port and
// ipc://path.
func checkEndpoint(ep string) error {
	switch {
	case strings.HasPrefix(ep, "tcp://"):
		rest := strings.TrimPrefix(ep, "tcp://")
		if i := strings.LastIndex(rest, ":"); i > 0 && i < len(rest)-1 {
			return nil
		}
	case strings.HasPrefix(ep, "ipc://") && len(ep) > len("ipc://"):
		return nil
	}
	return fmt.Errorf("invalid endpoint %q (want tcp://host:port or ipc://path)", ep)
}

// sync connects s to the endpoints of want it lacks, then disconnects it
// from those want no longer lists, so that a peer that stays is never
// dropped and a new one is reached before an old one goes.
func (f *Follower) sync(name string, s *zmtp.Socket, want []string) {
	added, removed, err := SyncEndpoints(s, want)
	f.connects.Add(uint64(len(added)))
	f.disconnects.Add(uint64(len(removed)))
	if len(added)+len(removed) > 0 {
		f.log.Info("socket endpoints changed", "socket", name, "connected", added, "disconnected", removed)
	}
	if err != nil {
		f.log.Error("following socket endpoints", "socket", name, "err", err)
	}
}

// SyncEndpoints makes the endpoints s is connected to equal want: it
// connects to each endpoint of want it is not connected to, then
// disconnects from each it is connected to that want lacks (Disconnect
// writes what is queued for that peer within the socket's linger). It
// returns what it changed, and the first error (the other changes are
// still made).
func SyncEndpoints(s *zmtp.Socket, want []string) (added, removed []string, err error) {
	have := s.ConnectedEndpoints()
	keep := map[string]bool{}
	for _, ep := range want {
		keep[ep] = true
		if slices.Contains(have, ep) || slices.Contains(added, ep) {
			continue
		}
		if e := s.Connect(ep); e != nil {
			err = cmpErr(err, e)
			continue
		}
		added = append(added, ep)
	}
	for _, ep := range have {
		if keep[ep] {
			continue
		}
		if e := s.Disconnect(ep); e != nil {
			err = cmpErr(err, e)
			continue
		}
		removed = append(removed, ep)
	}
	return added, removed, err
}

func cmpErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// OpenFollowing opens the socket named name of cfg, the configuration read
// from path, like Open; a connecting socket then follows the file's
// endpoints for it (checked every DefaultFollowInterval) until ctx ends or
// the socket is closed. It is how an application opts into live endpoint
// updates with one call; the Follower's Stats count what it did.
func OpenFollowing(ctx context.Context, path string, cfg *zmqconfig.Config, name string, log *slog.Logger, extra ...zmtp.Option) (*zmtp.Socket, *Follower, error) {
	sc := cfg.Socket(name)
	if sc == nil {
		return nil, nil, fmt.Errorf("component %s has no socket %q in %s", cfg.Component, name, path)
	}
	s, err := Open(*sc, extra...)
	if err != nil {
		return nil, nil, err
	}
	f := NewFollower(path, cfg, 0, log)
	if !sc.Bind {
		f.Follow(name, s)
		fctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-s.Closed():
				cancel()
			case <-fctx.Done():
			}
		}()
		go f.Run(fctx)
	}
	return s, f, nil
}
