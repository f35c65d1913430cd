package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	criv1 "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Down stops every component and undoes every host change recorded in
// state.json, also after a failed or partial Up: kubelet first, then all pod
// sandboxes and containers through CRI (so CNI releases their addresses),
// the other components (SIGTERM, a short grace, SIGKILL), leftover shims and
// container processes, mounts under WorkDir, iptables chains and rules
// (kube-proxy --cleanup, KUBE-*/CNI-* chains that were not there before, our
// FORWARD rule), the CNI bridge, the lo address, ip_forward, kubelet's
// cgroups, and WorkDir except WorkDir/logs. It keeps going after errors and
// returns them joined.
func (c *Cluster) Down(ctx context.Context) error {
	c.mu.Lock()
	if c.downed {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	t0 := time.Now()
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	proc := func(name string) (procState, bool) {
		for _, p := range c.st.Procs {
			if p.Name == name {
				return p, true
			}
		}
		return procState{}, false
	}
	stop := func(name string, grace time.Duration) {
		if p, ok := proc(name); ok {
			add(p.stop(grace))
		}
	}

	// 1. kubelet, so nothing restarts containers.
	stop("kubelet", 5*time.Second)
	// 2. pods, through CRI while containerd runs.
	if p, ok := proc("containerd"); ok && p.alive() {
		cctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		add(c.removePods(cctx))
		cancel()
	}
	// 3. the rest of the node and control plane, apiserver with a short
	// grace (it may otherwise wait ~60 s for its clients).
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, n := range []string{"kube-proxy", "coredns", "kube-scheduler", "kube-controller-manager", "kube-network-policies"} {
		if p, ok := proc(n); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.stop(3 * time.Second); err != nil {
					emu.Lock()
					add(err)
					emu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	stop("containerd", 5*time.Second)
	stop("kube-apiserver", 2*time.Second)
	stop("etcd", 5*time.Second)
	for _, p := range c.st.Procs { // anything else recorded
		add(p.stop(2 * time.Second))
	}
	// 4. shims of our containerd and any container process left in
	// kubelet's cgroups (only if we created them).
	for _, pid := range pidsWithArg(c.containerdSock()) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, cg := range c.st.Undo.CgroupsCreated {
		for _, pid := range pidsInCgroupTree(cg) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(100 * time.Millisecond)
	// 5. mounts: everything under WorkDir, and the pod network namespaces
	// containerd pinned under /run/netns when that directory is ours (CRI
	// removes them itself unless containerd was already dead).
	mountDirs := []string{c.cfg.WorkDir}
	netnsOurs := false
	for _, d := range c.st.Undo.DirsCreated {
		if d == "/run/netns" {
			netnsOurs = true
			mountDirs = append(mountDirs, d)
		}
	}
	for _, e := range unmountAll(mountDirs...) {
		add(e)
	}
	if netnsOurs {
		if ns, err := filepath.Glob("/run/netns/cni-*"); err == nil {
			for _, n := range ns {
				_ = os.Remove(n)
			}
		}
	}
	// The enforcer deletes its nftables table when it stops; if it was
	// killed, the table would keep queueing pod packets to no one.
	if _, err := run(ctx, "nft", "list", "table", "inet", netpolTable); err == nil {
		if _, err := run(ctx, "nft", "delete", "table", "inet", netpolTable); err != nil {
			add(err)
		}
	}
	// 6. iptables: kube-proxy's own cleanup, then whatever KUBE-*/CNI-*
	// chain is new (kubelet's canaries, CNI), then our rule.
	if _, err := os.Stat(c.bin("kube-proxy")); err == nil && len(c.st.Procs) > 0 {
		_, _ = run(ctx, c.bin("kube-proxy"), "--cleanup", "--v=0")
	}
	pre := map[string]bool{}
	for _, s := range c.st.Undo.KubeChainsPre {
		pre[s] = true
	}
	var ours []iptablesChain
	for _, ch := range listChains(ctx) {
		if !pre[ch.String()] {
			ours = append(ours, ch)
		}
	}
	errs = append(errs, removeChains(ctx, ours)...)
	if r := c.st.Undo.DropRule; len(r) > 0 {
		if _, err := run(ctx, "iptables", append([]string{"-w", "5", "-D"}, r...)...); err != nil && !strings.Contains(err.Error(), "does a matching rule exist") && !strings.Contains(err.Error(), "Bad rule") {
			add(err)
		}
	}
	// 7. links and addresses.
	if linkExists(c.st.Bridge) && c.st.Bridge != "" {
		_, err := run(ctx, "ip", "link", "del", c.st.Bridge)
		add(err)
	}
	if c.st.Undo.LoAddr && hostHasAddr(ctx, c.cfg.NodeIP) {
		_, err := run(ctx, "ip", "addr", "del", c.cfg.NodeIP+"/32", "dev", "lo")
		add(err)
	}
	if v := c.st.Undo.IPForward; v != "" {
		add(os.WriteFile(ipForwardPath, []byte(v+"\n"), 0o644))
	}
	// 8. cgroups kubelet created.
	for _, cg := range c.st.Undo.CgroupsCreated {
		add(removeCgroupTree(cg))
	}
	// 9. files containerd/kubelet keep outside WorkDir.
	if links, err := filepath.Glob("/var/log/containers/*.log"); err == nil {
		for _, l := range links {
			if t, err := os.Readlink(l); err == nil && strings.HasPrefix(t, c.cfg.WorkDir+"/") {
				_ = os.Remove(l)
			}
		}
	}
	// libcni's result cache (/var/lib/cni/results/<network>-<sandbox>-<if>)
	// for our sandboxes, on our network and containerd's loopback network.
	if res, err := filepath.Glob("/var/lib/cni/results/" + cniNetwork + "-*"); err == nil {
		for _, r := range res {
			_ = os.Remove(r)
		}
	}
	if sbs, err := os.ReadDir(c.dir("containerd", "root", "io.containerd.grpc.v1.cri", "sandboxes")); err == nil {
		for _, sb := range sbs {
			if res, err := filepath.Glob("/var/lib/cni/results/cni-loopback-" + sb.Name() + "-*"); err == nil {
				for _, r := range res {
					_ = os.Remove(r)
				}
			}
		}
	}
	for _, d := range c.st.Undo.DirsCreated {
		switch d {
		case "/var/lib/kubelet":
			_ = os.Remove("/var/lib/kubelet/device-plugins/kubelet.sock")
		case "/run/containerd":
			// Sockets of shims that were killed (containerd 1.6 keeps them
			// here whatever its state dir); the directory is ours.
			if socks, err := filepath.Glob("/run/containerd/s/*"); err == nil {
				for _, s := range socks {
					_ = os.Remove(s)
				}
			}
		}
		if err := removeEmptyTree(d); err != nil {
			c.logf("warning: %v", err)
		}
	}
	// 10. state, keeping the logs.
	if len(errs) == 0 {
		ents, _ := os.ReadDir(c.cfg.WorkDir)
		for _, e := range ents {
			if e.Name() == "logs" || e.Name() == "state.json" {
				continue
			}
			if err := os.RemoveAll(filepath.Join(c.cfg.WorkDir, e.Name())); err != nil {
				add(err)
			}
		}
		if len(errs) == 0 {
			_ = os.Rename(statePath(c.cfg.WorkDir), filepath.Join(c.cfg.WorkDir, "logs", "state.json.last"))
			if ActiveWorkDir() == c.cfg.WorkDir {
				_ = os.Remove(activeFile)
			}
		}
	}
	if len(errs) > 0 {
		c.logf("!!! tear-down finished with errors (state kept in %s; run down again)", statePath(c.cfg.WorkDir))
		return errors.Join(errs...)
	}
	c.mu.Lock()
	c.downed = true
	c.mu.Unlock()
	c.logf("==> cluster torn down (%.1fs); logs kept in %s", time.Since(t0).Seconds(), c.LogDir())
	return nil
}

// removePods stops and removes every pod sandbox and container through CRI.
func (c *Cluster) removePods(ctx context.Context) error {
	rt, closeFn, err := c.criClient(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	var errs []error
	sbs, err := rt.ListPodSandbox(ctx, &criv1.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("CRI ListPodSandbox: %w", err)
	}
	for _, sb := range sbs.Items {
		if _, err := rt.StopPodSandbox(ctx, &criv1.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop sandbox %s/%s: %w", sb.GetMetadata().GetNamespace(), sb.GetMetadata().GetName(), err))
		}
		if _, err := rt.RemovePodSandbox(ctx, &criv1.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove sandbox %s: %w", sb.Id, err))
		}
	}
	cs, err := rt.ListContainers(ctx, &criv1.ListContainersRequest{})
	if err == nil {
		for _, ct := range cs.Containers {
			_, _ = rt.StopContainer(ctx, &criv1.StopContainerRequest{ContainerId: ct.Id, Timeout: 1})
			if _, err := rt.RemoveContainer(ctx, &criv1.RemoveContainerRequest{ContainerId: ct.Id}); err != nil {
				errs = append(errs, fmt.Errorf("remove container %s: %w", ct.Id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists what of this cluster still exists on the host: live
// processes, mounts under WorkDir, the lo address, the bridge, KUBE-*/CNI-*
// chains that were not there before Up, our FORWARD rule, kubelet cgroups.
// Empty after a successful Down.
func (c *Cluster) Leftovers(ctx context.Context) []string {
	var res []string
	for _, p := range c.st.Procs {
		if p.alive() {
			res = append(res, fmt.Sprintf("process %s (pid %d)", p.Name, p.PID))
		}
	}
	for _, pid := range pidsWithArg(c.containerdSock()) {
		res = append(res, fmt.Sprintf("containerd shim pid %d", pid))
	}
	for _, m := range mountsUnder(c.cfg.WorkDir) {
		res = append(res, "mount "+m)
	}
	if hostHasAddr(ctx, c.cfg.NodeIP) {
		res = append(res, "address "+c.cfg.NodeIP)
	}
	if linkExists(bridgeName) {
		res = append(res, "link "+bridgeName)
	}
	pre := map[string]bool{}
	for _, s := range c.st.Undo.KubeChainsPre {
		pre[s] = true
	}
	for _, ch := range listChains(ctx) {
		if !pre[ch.String()] {
			res = append(res, "iptables chain "+ch.String())
		}
	}
	if out, err := run(ctx, "iptables-save", "-t", "filter"); err == nil && strings.Contains(out, "zmq-e2e: pods stay on this machine") {
		res = append(res, "iptables FORWARD drop rule")
	}
	if _, err := run(ctx, "nft", "list", "table", "inet", netpolTable); err == nil {
		res = append(res, "nftables table inet "+netpolTable)
	}
	for _, cg := range c.st.Undo.CgroupsCreated {
		if _, err := os.Stat(cg); err == nil {
			res = append(res, "cgroup "+cg)
		}
	}
	for _, d := range c.st.Undo.DirsCreated {
		if _, err := os.Stat(d); err == nil {
			res = append(res, "directory "+d)
		}
	}
	if c.st.Undo.IPForward != "" {
		if b, _ := os.ReadFile(ipForwardPath); strings.TrimSpace(string(b)) != c.st.Undo.IPForward {
			res = append(res, "net.ipv4.ip_forward changed (was "+c.st.Undo.IPForward+")")
		}
	}
	return res
}
