package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// state is persisted in WorkDir/state.json after every step of Up, so that
// Down (in this process or, through Attach, in another one) knows exactly what
// to stop and what to undo on the host, even after a partial start.
type state struct {
	Config   Config      `json:"config"`
	NodeName string      `json:"nodeName"`
	Bridge   string      `json:"bridge"`
	Procs    []procState `json:"procs"`
	Undo     undoState   `json:"undo"`
	Ready    bool        `json:"ready"` // Up finished
	Started  time.Time   `json:"started"`
	// Owner is Config.Owner's process (nil: none), whose end lets another
	// Up reclaim the cluster.
	Owner *procState `json:"owner,omitempty"`
}

type procState struct {
	Name      string `json:"name"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"` // /proc/<pid>/stat field 22, guards against PID reuse
	Log       string `json:"log"`
}

// undoState records every change made outside WorkDir.
type undoState struct {
	LoAddr         bool     `json:"loAddr,omitempty"`         // NodeIP/32 added on lo
	IPForward      string   `json:"ipForward,omitempty"`      // value of net.ipv4.ip_forward before Up ("" = untouched)
	DropRule       []string `json:"dropRule,omitempty"`       // iptables FORWARD rule spec we inserted
	KubeChainsPre  []string `json:"kubeChainsPre,omitempty"`  // "family table chain" of KUBE-*/CNI-* chains that existed before Up
	CgroupsCreated []string `json:"cgroupsCreated,omitempty"` // cgroup dirs (kubepods) that did not exist before Up
	DirsCreated    []string `json:"dirsCreated,omitempty"`    // host dirs containerd/kubelet create outside WorkDir that did not exist before Up
}

func statePath(workDir string) string { return filepath.Join(workDir, "state.json") }

func (s *state) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	p := statePath(s.Config.WorkDir)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func loadState(workDir string) (*state, error) {
	b, err := os.ReadFile(statePath(workDir))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", statePath(workDir), err)
	}
	return &s, nil
}

// procStartTime returns field 22 (starttime) of /proc/<pid>/stat.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, errors.New("bad stat")
	}
	if f[0] == "Z" {
		return 0, errors.New("zombie")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive reports whether p still names the process we started.
func (p procState) alive() bool {
	if p.PID <= 0 {
		return false
	}
	st, err := procStartTime(p.PID)
	return err == nil && st == p.StartTime
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs and waits up to 5 s.
func (p procState) stop(grace time.Duration) error {
	if !p.alive() {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	if waitGone(p, grace) {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	if waitGone(p, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, p.PID)
}

func waitGone(p procState, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !p.alive() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
