package cluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// run runs a host command and returns its combined output; errors include it.
func run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// hostHasAddr reports whether ip is configured on any interface.
func hostHasAddr(ctx context.Context, ip string) bool {
	out, err := run(ctx, "ip", "-o", "-4", "addr", "show")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" && strings.SplitN(f[i+1], "/", 2)[0] == ip {
				return true
			}
		}
	}
	return false
}

func linkExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}

// iptablesChain is one chain as "family table chain", family ip4 or ip6.
type iptablesChain struct{ family, table, chain string }

func (c iptablesChain) String() string { return c.family + " " + c.table + " " + c.chain }

// ourChainPrefixes are the chain-name prefixes of kube-proxy, kubelet and the
// CNI plugins.
var ourChainPrefixes = []string{"KUBE-", "CNI-"}

// listChains lists KUBE-*/CNI-* chains in every table of both families.
func listChains(ctx context.Context) []iptablesChain {
	var res []iptablesChain
	for _, fam := range []string{"ip4", "ip6"} {
		save := "iptables-save"
		if fam == "ip6" {
			save = "ip6tables-save"
		}
		out, err := run(ctx, save)
		if err != nil {
			continue
		}
		table := ""
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "*"):
				table = l[1:]
			case strings.HasPrefix(l, ":"):
				name := strings.Fields(l[1:])[0]
				for _, p := range ourChainPrefixes {
					if strings.HasPrefix(name, p) {
						res = append(res, iptablesChain{fam, table, name})
					}
				}
			}
		}
	}
	return res
}

// removeChains flushes and deletes the given chains, first deleting every rule
// in any chain of the same table that jumps to one of them.
func removeChains(ctx context.Context, chains []iptablesChain) []error {
	var errs []error
	byTable := map[[2]string]map[string]bool{}
	for _, c := range chains {
		k := [2]string{c.family, c.table}
		if byTable[k] == nil {
			byTable[k] = map[string]bool{}
		}
		byTable[k][c.chain] = true
	}
	for k, set := range byTable {
		bin := "iptables"
		save := "iptables-save"
		if k[0] == "ip6" {
			bin, save = "ip6tables", "ip6tables-save"
		}
		out, err := run(ctx, save, "-t", k[1])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// Delete jump rules from chains that stay.
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			l := sc.Text()
			if !strings.HasPrefix(l, "-A ") {
				continue
			}
			f := strings.Fields(l)
			if set[f[1]] {
				continue // flushed below
			}
			for i := 0; i+1 < len(f); i++ {
				if (f[i] == "-j" || f[i] == "-g") && set[f[i+1]] {
					args := append([]string{"-w", "5", "-t", k[1], "-D"}, splitRule(l[3:])...)
					if _, err := run(ctx, bin, args...); err != nil {
						errs = append(errs, err)
					}
					break
				}
			}
		}
		names := make([]string, 0, len(set))
		for n := range set {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			_, _ = run(ctx, bin, "-w", "5", "-t", k[1], "-F", n)
		}
		for _, n := range names {
			if _, err := run(ctx, bin, "-w", "5", "-t", k[1], "-X", n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// splitRule splits an iptables-save rule into arguments, honouring the double
// quotes iptables-save puts around comments.
func splitRule(s string) []string {
	var args []string
	var cur strings.Builder
	inQ, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQ && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQ = !inQ
			have = true
		case c == ' ' && !inQ:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

// mountsUnder returns the mount points below any of the given directories,
// deepest first.
func mountsUnder(dirs ...string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var res []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		for _, d := range dirs {
			if d != "" && (mp == d || strings.HasPrefix(mp, d+"/")) {
				res = append(res, mp)
				break
			}
		}
	}
	sort.Slice(res, func(i, j int) bool { return strings.Count(res[i], "/") > strings.Count(res[j], "/") })
	return res
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// unmountAll lazily unmounts every mount below dirs.
func unmountAll(dirs ...string) []error {
	var errs []error
	for i := 0; i < 3; i++ {
		mps := mountsUnder(dirs...)
		if len(mps) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, mp := range mps {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
				errs = append(errs, fmt.Errorf("umount %s: %w", mp, err))
			}
		}
	}
	if mps := mountsUnder(dirs...); len(mps) > 0 {
		errs = append(errs, fmt.Errorf("still mounted: %s", strings.Join(mps, ", ")))
	}
	return errs
}

// cgroupV1Roots lists the mounted cgroup v1 hierarchies (and a v2 root if the
// host uses the unified hierarchy).
func cgroupRoots() []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var res []string
	for _, l := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(l, " - ", 2)
		if len(parts) != 2 {
			continue
		}
		fs := strings.Fields(parts[1])
		f := strings.Fields(parts[0])
		if len(fs) > 0 && len(f) >= 5 && (fs[0] == "cgroup" || fs[0] == "cgroup2") {
			res = append(res, unescapeMount(f[4]))
		}
	}
	return res
}

// kubeletCgroups are the top-level cgroups kubelet creates (cgroupsPerQOS).
func kubeletCgroups() []string {
	var res []string
	for _, r := range cgroupRoots() {
		res = append(res, filepath.Join(r, "kubepods"), filepath.Join(r, "kubepods.slice"))
	}
	return res
}

// removeCgroupTree removes dir and all its sub-cgroups (deepest first). It
// fails while tasks remain.
func removeCgroupTree(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var last error
	for _, d := range dirs {
		for i := 0; i < 20; i++ {
			err := syscall.Rmdir(d)
			if err == nil || err == syscall.ENOENT {
				last = nil
				break
			}
			last = fmt.Errorf("rmdir %s: %w", d, err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	return last
}

// pidsInCgroupTree returns the PIDs of every task below dir.
func pidsInCgroupTree(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(b)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// pidsWithArg returns the PIDs of processes whose command line contains arg
// as a whole argument (used to find containerd shims of our containerd by its
// private socket path).
func pidsWithArg(arg string) []int {
	ents, _ := os.ReadDir("/proc")
	var res []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if a == arg {
				res = append(res, pid)
				break
			}
		}
	}
	return res
}

// removeEmptyTree removes root and the directories below it, deepest first,
// if they are empty; a non-empty directory is reported.
func removeEmptyTree(root string) error {
	if _, err := os.Lstat(root); err != nil {
		return nil
	}
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		_ = os.Remove(d)
	}
	if _, err := os.Lstat(root); err == nil {
		var left []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && p != root && len(left) < 5 {
				left = append(left, p)
			}
			return nil
		})
		return fmt.Errorf("%s is not empty after tear-down (%s); left in place", root, strings.Join(left, ", "))
	}
	return nil
}
