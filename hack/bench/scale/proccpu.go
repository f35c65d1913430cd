package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// fixed at 100 by the Linux ABI on every architecture the benchmark runs on.
const userHZ = 100

// processCPU is the CPU time (user plus system) of each process this one
// started (etcd and kube-apiserver through envtest, the other components
// and the manager through startProcess), summed by command name, read
// from /proc/<pid>/stat. A process that has exited is not counted, so it
// is read before a phase tears its cluster down.
func processCPU() (map[string]time.Duration, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	out := map[string]time.Duration{}
	for _, p := range stats {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue // exited since the glob
		}
		comm, ppid, cpu, ok := parseStat(string(raw))
		if ok && ppid == self {
			out[comm] += cpu
		}
	}
	return out, nil
}

// parseStat reads the command name, parent pid and utime+stime of one
// /proc/<pid>/stat line: "pid (comm) state ppid ... utime stime ...",
// where comm may hold spaces and parentheses, so fields are counted from
// the last ')'.
func parseStat(line string) (comm string, ppid int, cpu time.Duration, ok bool) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return "", 0, 0, false
	}
	f := strings.Fields(line[end+1:])
	// f[0] is the state (field 3); ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return "", 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return "", 0, 0, false
	}
	return line[open+1 : end], ppid, time.Duration(utime+stime) * time.Second / userHZ, true
}

// formatCPU prints CPU times by process, largest first, with their total.
func formatCPU(m map[string]time.Duration) string {
	names := make([]string, 0, len(m))
	var total time.Duration
	for n, d := range m {
		names = append(names, n)
		total += d
	}
	sort.Slice(names, func(i, j int) bool { return m[names[i]] > m[names[j]] })
	parts := make([]string, 0, len(names)+1)
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.1fs", n, m[n].Seconds()))
	}
	parts = append(parts, fmt.Sprintf("total %.1fs", total.Seconds()))
	return strings.Join(parts, ", ")
}
