package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/images"
)

// hostTools maps each host program the cluster needs to its Debian package.
var hostTools = []struct{ path, pkg string }{
	{"containerd", "containerd"},
	{"ctr", "containerd"},
	{"containerd-shim-runc-v2", "containerd"},
	{"runc", "runc"},
	{"/usr/lib/cni/bridge", "containernetworking-plugins"},
	{"/usr/lib/cni/host-local", "containernetworking-plugins"},
	{"/usr/lib/cni/loopback", "containernetworking-plugins"},
	{"iptables", "iptables"},
	{"iptables-save", "iptables"},
	{"ip6tables-save", "iptables"},
	{"conntrack", "conntrack"},
	{"ip", "iproute2"},
}

// Binaries are the files BinDir must hold.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "coredns", "registry", "kube-network-policies"}

// Preflight checks that this machine can run the cluster: Linux, root, the
// binaries in binDir and the host packages. Every error wraps ErrUnsupported.
func Preflight(binDir string) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("%w: needs Linux, this is %s", ErrUnsupported, runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (containerd, iptables, mounts)", ErrUnsupported)
	}
	var missingBins []string
	for _, b := range Binaries {
		if st, err := os.Stat(filepath.Join(binDir, b)); err != nil || st.Mode()&0o111 == 0 {
			missingBins = append(missingBins, b)
		}
	}
	pkgs := map[string]bool{}
	var missingPkgs []string
	for _, t := range hostTools {
		var err error
		if strings.HasPrefix(t.path, "/") {
			_, err = os.Stat(t.path)
		} else {
			_, err = exec.LookPath(t.path)
		}
		if err != nil && !pkgs[t.pkg] {
			pkgs[t.pkg] = true
			missingPkgs = append(missingPkgs, t.pkg)
		}
	}
	var msgs []string
	if len(missingBins) > 0 {
		msgs = append(msgs, fmt.Sprintf("missing in %s: %s (run: hack/build-k8s.sh kube-apiserver etcd kubectl kube-controller-manager kube-scheduler kubelet kube-proxy coredns registry kube-network-policies)", binDir, strings.Join(missingBins, " ")))
	}
	if len(missingPkgs) > 0 {
		msgs = append(msgs, "missing host packages: apt-get install -y "+strings.Join(missingPkgs, " "))
	}
	if _, err := exec.LookPath("go"); err != nil {
		msgs = append(msgs, "the go command is needed to build the pause image")
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%w: %s", ErrUnsupported, strings.Join(msgs, "; "))
	}
	return nil
}

// Up starts a cluster and waits until the node is Ready, kube-proxy and
// CoreDNS serve and the default ServiceAccount exists. On failure it tears
// down what it started (unless cfg.KeepOnFailure) and returns an error that
// names the failing component's log file.
func Up(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := Preflight(cfg.BinDir); err != nil {
		return nil, err
	}
	// One Up at a time on this machine: another one reclaiming this
	// cluster while it starts (its address is on lo before any process
	// runs) would tear it down under us.
	unlock, err := Lock(ctx, cfg.Log)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := reclaimStale(ctx, cfg.WorkDir, cfg.Log); err != nil {
		return nil, err
	}
	if hostHasAddr(ctx, cfg.NodeIP) || linkExists(bridgeName) {
		// A cluster killed without its tear-down (SIGKILL, a stopped CI
		// job, a lost machine session), or whose test binary died (a test
		// timeout), leaves its address, bridge, iptables rules and mounts
		// behind; reclaim it (reclaimStale says when).
		if wd := ActiveWorkDir(); wd != "" && wd != cfg.WorkDir {
			if err := reclaimStale(ctx, wd, cfg.Log); err != nil {
				return nil, err
			}
		}
		if hostHasAddr(ctx, cfg.NodeIP) || linkExists(bridgeName) {
			return nil, fmt.Errorf("%s is already configured on this host or interface %s exists, and no cluster state records it; remove them by hand (ip addr del %s/32 dev lo; ip link del %s; the iptables rules commented zmq-e2e)", cfg.NodeIP, bridgeName, cfg.NodeIP, bridgeName)
		}
	}
	c := &Cluster{cfg: cfg, exited: map[string]chan struct{}{}}
	c.st = &state{Config: cfg, NodeName: NodeName, Bridge: bridgeName, Started: time.Now()}
	if cfg.Owner > 0 {
		stt, err := procStartTime(cfg.Owner)
		if err != nil {
			return nil, fmt.Errorf("owner pid %d: %w", cfg.Owner, err)
		}
		c.st.Owner = &procState{Name: "owner", PID: cfg.Owner, StartTime: stt}
	}
	for _, d := range []string{"", "logs", "pki", "kubeconfig", "etc", "images", "cni/net.d", "cni/ipam"} {
		if err := os.MkdirAll(c.dir(d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := c.st.save(); err != nil {
		return nil, err
	}
	if err := writeActive(cfg.WorkDir); err != nil {
		return nil, err
	}
	start := time.Now()
	err = c.up(ctx)
	if err != nil {
		if cfg.KeepOnFailure {
			c.logf("!!! %v", err)
			c.logf("!!! leaving the partial cluster running (state in %s); tear it down with `down`", statePath(cfg.WorkDir))
			return c, err
		}
		c.logf("!!! %v", err)
		c.logf("==> tearing down after the failure")
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if derr := c.Down(dctx); derr != nil {
			err = fmt.Errorf("%w (and tear-down: %v)", err, derr)
		}
		return nil, err
	}
	c.st.Ready = true
	if err := c.st.save(); err != nil {
		return c, err
	}
	c.logf("==> cluster up in %.1fs; KUBECONFIG=%s", time.Since(start).Seconds(), c.Kubeconfig())
	return c, nil
}

// step logs "==> name ready (1.2s)" around fn.
func (c *Cluster) step(name string, fn func() error) error {
	t := time.Now()
	if err := fn(); err != nil {
		return err
	}
	c.logf("==> %s ready (%.1fs)", name, time.Since(t).Seconds())
	return nil
}

func (c *Cluster) up(ctx context.Context) error {
	cfg := c.cfg
	if err := c.step("certificates and kubeconfigs", c.writePKI); err != nil {
		return err
	}
	if err := c.writeConfigs(); err != nil {
		return err
	}
	if err := c.step("host network ("+cfg.NodeIP+" on lo, ip_forward, FORWARD drop rule)", func() error { return c.setupHost(ctx) }); err != nil {
		return err
	}
	// The pause image builds while containerd, the registry and etcd start.
	pauseLayout := c.dir("images", "pause")
	pauseErr := make(chan error, 1)
	go func() { pauseErr <- images.BuildPauseLayout(ctx, pauseLayout) }()

	t0 := time.Now()
	if err := c.startContainerd(); err != nil {
		return err
	}
	if err := c.start("registry", c.bin("registry"), c.registryArgs()...); err != nil {
		return err
	}
	if err := c.start("etcd", c.bin("etcd"), c.etcdArgs()...); err != nil {
		return err
	}
	if err := c.waitReady(ctx, "etcd", 30*time.Second, c.httpCheck(nil, fmt.Sprintf("http://%s:%d/health", cfg.NodeIP, etcdPort), `"health":"true"`)); err != nil {
		return err
	}
	c.logf("==> etcd ready (%.1fs)", time.Since(t0).Seconds())
	if err := c.waitReady(ctx, "registry", 30*time.Second, c.httpCheck(nil, "http://"+c.Registry()+"/v2/", "{}")); err != nil {
		return err
	}
	c.logf("==> registry ready at %s (%.1fs)", c.Registry(), time.Since(t0).Seconds())
	t0 = time.Now()
	if err := c.start("kube-apiserver", c.bin("kube-apiserver"), c.apiserverArgs()...); err != nil {
		return err
	}
	if err := c.waitReady(ctx, "containerd", 30*time.Second, c.containerdCheck); err != nil {
		return err
	}
	if err := <-pauseErr; err != nil {
		return fmt.Errorf("building the pause image: %w", err)
	}
	if _, err := images.Push(ctx, pauseLayout, c.PauseImage(), true); err != nil {
		return fmt.Errorf("%w (see %s)", err, c.logPath("registry"))
	}
	c.logf("==> containerd ready, pause image pushed to %s (%.1fs)", c.PauseImage(), time.Since(t0).Seconds())
	admin, err := c.adminClient()
	if err != nil {
		return err
	}
	if err := c.waitReady(ctx, "kube-apiserver", 90*time.Second, c.httpCheck(admin, c.apiURL("/readyz"), "ok")); err != nil {
		return err
	}
	c.logf("==> kube-apiserver ready (%.1fs)", time.Since(t0).Seconds())

	t0 = time.Now()
	if err := c.Apply(ctx, c.bootstrapManifest()); err != nil {
		return fmt.Errorf("bootstrap objects: %w (see %s)", err, c.logPath("kube-apiserver"))
	}
	for _, p := range []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", c.kcmArgs()},
		{"kube-scheduler", c.schedulerArgs()},
		{"kubelet", c.kubeletArgs()},
		{"kube-proxy", c.proxyArgs()},
		{"coredns", c.corednsArgs()},
		{"kube-network-policies", c.netpolArgs()},
	} {
		if err := c.start(p.name, c.bin(p.name), p.args...); err != nil {
			return err
		}
	}
	caPool, err := c.caPool()
	if err != nil {
		return err
	}
	verifying := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool}}}
	checks := []struct {
		name  string
		check func(context.Context) error
	}{
		{"kube-controller-manager", c.httpCheck(verifying, fmt.Sprintf("https://%s:%d/healthz", cfg.NodeIP, kcmPort), "ok")},
		{"kube-scheduler", c.httpCheck(verifying, fmt.Sprintf("https://%s:%d/healthz", cfg.NodeIP, schedulerPort), "ok")},
		{"kubelet", c.httpCheck(nil, fmt.Sprintf("http://%s:%d/healthz", cfg.NodeIP, kubeletHealthz), "ok")},
		{"kubelet", c.nodeReadyCheck(admin)},
		{"kube-proxy", c.httpCheck(nil, fmt.Sprintf("http://%s:%d/healthz", cfg.NodeIP, proxyHealthz), "")},
		{"coredns", c.httpCheck(nil, fmt.Sprintf("http://%s:%d/ready", cfg.NodeIP, dnsReadyPort), "OK")},
		{"kube-network-policies", c.netpolCheck},
		{"kube-controller-manager", c.httpCheck(admin, c.apiURL("/api/v1/namespaces/default/serviceaccounts/default"), `"default"`)},
	}
	names := []string{"kube-controller-manager", "kube-scheduler", "kubelet", "node " + NodeName, "kube-proxy", "coredns", "kube-network-policies", "default ServiceAccount"}
	for i, ch := range checks {
		if err := c.waitReady(ctx, ch.name, 90*time.Second, ch.check); err != nil {
			return err
		}
		c.logf("==> %s ready (%.1fs)", names[i], time.Since(t0).Seconds())
	}
	return nil
}

// start launches a component as its own session leader (it survives the
// calling process, e.g. `cluster up`), logging to WorkDir/logs/<name>.log,
// and records it in state.json.
func (c *Cluster) start(name, bin string, args ...string) error {
	logPath := c.logPath(name)
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	fmt.Fprintf(lf, "# %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = c.cfg.WorkDir
	cmd.Env = componentEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	stt, _ := procStartTime(cmd.Process.Pid)
	done := make(chan struct{})
	c.mu.Lock()
	c.exited[name] = done
	c.st.Procs = append(c.st.Procs, procState{Name: name, PID: cmd.Process.Pid, StartTime: stt, Log: logPath})
	c.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }() // reap
	return c.st.save()
}

// componentEnv is the environment of every component: ours, minus kubeconfig
// and proxy variables, with the sbin directories on PATH.
func componentEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		k := strings.SplitN(e, "=", 2)[0]
		switch strings.ToUpper(k) {
		case "KUBECONFIG", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "PATH", "OTEL_TRACES_EXPORTER":
			continue
		}
		env = append(env, e)
	}
	// OTEL_TRACES_EXPORTER=none: the registry would otherwise export traces
	// to an OTLP collector on localhost.
	return append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "OTEL_TRACES_EXPORTER=none")
}

// waitReady polls check every 200 ms until it succeeds, the component exits
// or the timeout passes; errors name the component's log.
func (c *Cluster) waitReady(ctx context.Context, name string, timeout time.Duration, check func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	c.mu.Lock()
	done := c.exited[name]
	c.mu.Unlock()
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		if done != nil {
			select {
			case <-done:
				return fmt.Errorf("%s exited during start-up: %v; see %s", name, last, c.logPath(name))
			default:
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w (last check: %v); see %s", name, ctx.Err(), last, c.logPath(name))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v; see %s", name, timeout, last, c.logPath(name))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// httpCheck GETs url and requires a 200 whose body contains want.
func (c *Cluster) httpCheck(client *http.Client, url, want string) func(context.Context) error {
	if client == nil {
		client = &http.Client{Timeout: 3 * time.Second}
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: HTTP %d: %.200s", url, resp.StatusCode, b)
		}
		if want != "" && !strings.Contains(string(b), want) {
			return fmt.Errorf("GET %s: unexpected body %.200q", url, b)
		}
		return nil
	}
}

func (c *Cluster) nodeReadyCheck(admin *http.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.apiURL("/api/v1/nodes/"+NodeName), nil)
		resp, err := admin.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("node %s: HTTP %d", NodeName, resp.StatusCode)
		}
		var node struct {
			Status struct {
				Conditions []struct{ Type, Status, Reason, Message string }
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&node); err != nil {
			return err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == "Ready" {
				if cond.Status == "True" {
					return nil
				}
				return fmt.Errorf("node %s not Ready: %s: %s", NodeName, cond.Reason, cond.Message)
			}
		}
		return fmt.Errorf("node %s has no Ready condition yet", NodeName)
	}
}

func (c *Cluster) apiURL(path string) string {
	return fmt.Sprintf("https://%s:%d%s", c.cfg.NodeIP, apiserverPort, path)
}

func (c *Cluster) caPool() (*x509.CertPool, error) {
	ca, err := os.ReadFile(c.dir("pki", "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("bad ca.crt")
	}
	return pool, nil
}

// adminClient is an HTTPS client with the admin client certificate.
func (c *Cluster) adminClient() (*http.Client, error) {
	pool, err := c.caPool()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.dir("pki", "admin.crt"), c.dir("pki", "admin.key"))
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
	}}, nil
}

// writePKI generates the CA, every certificate and the kubeconfigs.
func (c *Cluster) writePKI() error {
	p, err := newPKI(c.dir("pki"))
	if err != nil {
		return err
	}
	nodeIP := net.ParseIP(c.cfg.NodeIP)
	d := c.cfg.ClusterDomain
	specs := []certSpec{
		{name: "apiserver", cn: "kube-apiserver", server: true,
			dns: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + d, "localhost"},
			ips: []net.IP{nodeIP, net.ParseIP(c.cfg.APIServerIP()), net.ParseIP("127.0.0.1")}},
		{name: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, client: true},
		{name: "admin", cn: "zmq-e2e-admin", orgs: []string{"system:masters"}, client: true},
		{name: "kube-controller-manager", cn: "system:kube-controller-manager", client: true},
		{name: "kube-controller-manager-serving", cn: "kube-controller-manager", server: true, ips: []net.IP{nodeIP}},
		{name: "kube-scheduler", cn: "system:kube-scheduler", client: true},
		{name: "kube-scheduler-serving", cn: "kube-scheduler", server: true, ips: []net.IP{nodeIP}},
		{name: "kubelet", cn: "system:node:" + NodeName, orgs: []string{"system:nodes"}, client: true},
		{name: "kubelet-serving", cn: "system:node:" + NodeName, orgs: []string{"system:nodes"}, server: true, dns: []string{NodeName}, ips: []net.IP{nodeIP}},
		{name: "kube-proxy", cn: "system:kube-proxy", client: true},
		{name: "coredns", cn: "zmq-e2e:coredns", client: true},
		{name: "kube-network-policies", cn: "zmq-e2e:kube-network-policies", client: true},
		{name: "front-proxy-client", cn: "front-proxy-client", client: true},
	}
	for _, s := range specs {
		if err := p.issue(s); err != nil {
			return fmt.Errorf("certificate %s: %w", s.name, err)
		}
	}
	if err := p.serviceAccountKeys(); err != nil {
		return err
	}
	server := c.apiURL("")
	for _, n := range []string{"admin", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "coredns", "kube-network-policies"} {
		if err := p.kubeconfig(c.dir("kubeconfig", n+".kubeconfig"), server, n); err != nil {
			return err
		}
	}
	return nil
}

// activeFile records the WorkDir of the cluster running on this machine, so
// that a cluster left behind by a killed test can be found and torn down.
// Down removes it.
const activeFile = "/run/zmq-e2e-cluster"

// ActiveWorkDir returns the WorkDir of the cluster recorded as running on
// this machine, or "".
func ActiveWorkDir() string {
	b, err := os.ReadFile(activeFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func writeActive(workDir string) error {
	return os.WriteFile(activeFile, []byte(workDir+"\n"), 0o644)
}

// reclaimStale tears down the cluster recorded in workDir if it was left
// behind: the process it was started for (state.Owner) is gone, or, when
// it has no owner, none of its processes is alive (they were killed
// without the tear-down). It returns nil when workDir records no cluster,
// and an error naming a live process and the tear-down command when the
// cluster is in use. Up calls it holding Lock, so the cluster is not
// one that another Up is starting.
func reclaimStale(ctx context.Context, workDir string, log io.Writer) error {
	old, err := attach(workDir, log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w; remove it once nothing of that cluster runs", err)
	}
	st := old.st
	inUse := func(p procState) error {
		return fmt.Errorf("a cluster is already running on this machine (work dir %s, %s pid %d); tear it down first: %s", workDir, p.Name, p.PID, downHint(workDir))
	}
	why := "none of its processes runs"
	if o := st.Owner; o != nil {
		if o.alive() {
			return inUse(*o)
		}
		why = fmt.Sprintf("the process it was started for, pid %d, is gone", o.PID)
	} else {
		for _, p := range st.Procs {
			if p.alive() {
				return inUse(p)
			}
		}
	}
	fmt.Fprintf(log, "==> reclaiming the cluster left in %s (%s)\n", workDir, why)
	if err := old.Down(ctx); err != nil {
		return fmt.Errorf("tearing down the stale cluster in %s: %w", workDir, err)
	}
	return nil
}

// lockFile is flock(2)ed by Up, and by whoever tears a cluster down
// outside Up (cmd/cluster down), for as long as they run.
const lockFile = "/run/zmq-e2e-cluster.lock"

// Lock waits until no other Up or tear-down runs on this machine (or ctx
// ends), saying so on log once, and returns the function that lets the
// next one go. Up takes it itself; a program that calls Down on a cluster
// it attached to takes it around Attach and Down, so that an Up does not
// reclaim that cluster while it is half torn down, nor the tear-down's
// last steps (the fixed address, bridge and iptables rules) remove those
// of a cluster started meanwhile. Down itself does not take it: Up calls
// it while holding the lock. The kernel releases the lock when the process
// ends, however it ends.
func Lock(ctx context.Context, log io.Writer) (unlock func(), err error) {
	f, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for said := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", lockFile, err)
		}
		if !said {
			fmt.Fprintf(log, "==> waiting for another cluster start or tear-down on this machine (%s)\n", lockFile)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another cluster start or tear-down (%s): %w", lockFile, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func downHint(workDir string) string {
	return "(cd test/e2e && go run ./cmd/cluster down --work-dir " + workDir + ")"
}
