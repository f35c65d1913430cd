// Package cluster runs a real single-node Kubernetes cluster on this machine
// for end-to-end tests, in the spirit of Kubernetes' hack/local-up-cluster.sh:
// containerd (private socket, root and state), etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kubelet, kube-proxy (iptables mode)
// and CoreDNS (a host process serving the cluster domain through the kube-dns
// Service), all as host processes started from binaries built by
// hack/build-k8s.sh.
//
// Everything lives under Config.WorkDir. The few host changes it needs (an
// address on lo, net.ipv4.ip_forward, one iptables FORWARD rule, the CNI
// bridge, kube-proxy's and kubelet's iptables chains, kubelet's cgroups) are
// recorded in WorkDir/state.json as they are made, and Down undoes them, also
// from another process through Attach.
//
// Linux and root only; Up returns an error wrapping ErrUnsupported elsewhere.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrUnsupported is wrapped by the error Up returns when this machine cannot
// run the cluster at all (not Linux, not root, missing binaries or packages),
// so tests can skip.
var ErrUnsupported = errors.New("local cluster unsupported here")

// Config configures a cluster. Zero values take the documented defaults.
type Config struct {
	// WorkDir holds all state: certs, kubeconfigs, containerd root/state and
	// socket, etcd data, kubelet root, logs (WorkDir/logs), state.json.
	// Required; made absolute.
	WorkDir string `json:"workDir"`
	// BinDir holds etcd kube-apiserver kube-controller-manager kube-scheduler
	// kubelet kube-proxy kubectl coredns (hack/build-k8s.sh). Required.
	BinDir string `json:"binDir"`
	// NodeIP is added as a /32 on lo; every component binds to it.
	// Default 10.250.0.1.
	NodeIP string `json:"nodeIP"`
	// PodCIDR is the CNI bridge's range. Default 10.244.0.0/24.
	PodCIDR string `json:"podCIDR"`
	// ServiceCIDR is the Service range; .1 is the kubernetes Service, .10
	// kube-dns. Default 10.96.0.0/24.
	ServiceCIDR string `json:"serviceCIDR"`
	// ClusterDomain, default cluster.local.
	ClusterDomain string `json:"clusterDomain"`
	// Log receives progress lines ("==> etcd ready (1.2s)"). Default os.Stderr.
	Log io.Writer `json:"-"`
	// KeepOnFailure leaves whatever started running when Up fails (for
	// debugging; tear it down later with Attach + Down).
	KeepOnFailure bool `json:"-"`
	// Owner is the PID of the process the cluster lives for, such as a
	// test binary that tears it down when it ends. Once that process is
	// gone (killed, or its test timed out) a later Up may tear the cluster
	// down even while its components run. 0 (cmd/cluster up): the cluster
	// outlives the process that started it, and only Down ends it.
	Owner int `json:"-"`
}

// Fixed names and ports. All ports are bound on NodeIP only.
const (
	NodeName   = "zmq-e2e-node"
	bridgeName = "zmqe2e0"
	cniNetwork = "zmq-e2e"

	etcdPort       = 2379
	etcdPeerPort   = 2380
	apiserverPort  = 6443
	kcmPort        = 10257
	schedulerPort  = 10259
	kubeletPort    = 10250
	kubeletHealthz = 10248
	proxyHealthz   = 10256
	proxyMetrics   = 10249
	dnsReadyPort   = 18181
	dnsHealthPort  = 18080
	registryPort   = 5000
	netpolMetrics  = 9080 // kube-network-policies' /metrics

	// netpolQueue is the nfqueue the NetworkPolicy enforcer reads the
	// first packet of each new pod connection from.
	netpolQueue = 98
	// netpolTable is the nftables table (family inet) of the enforcer's
	// rules; Down deletes it if the enforcer could not.
	netpolTable = "kube-network-policies"
)

func (c *Config) setDefaults() error {
	if c.WorkDir == "" {
		return errors.New("cluster: Config.WorkDir is required")
	}
	if c.BinDir == "" {
		return errors.New("cluster: Config.BinDir is required")
	}
	var err error
	if c.WorkDir, err = filepath.Abs(c.WorkDir); err != nil {
		return err
	}
	if c.BinDir, err = filepath.Abs(c.BinDir); err != nil {
		return err
	}
	if c.NodeIP == "" {
		c.NodeIP = "10.250.0.1"
	}
	if c.PodCIDR == "" {
		c.PodCIDR = "10.244.0.0/24"
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = "10.96.0.0/24"
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if ip := net.ParseIP(c.NodeIP); ip == nil || ip.To4() == nil {
		return fmt.Errorf("cluster: NodeIP %q is not an IPv4 address", c.NodeIP)
	}
	for _, cidr := range []string{c.PodCIDR, c.ServiceCIDR} {
		if _, n, err := net.ParseCIDR(cidr); err != nil || n.IP.To4() == nil {
			return fmt.Errorf("cluster: %q is not an IPv4 CIDR", cidr)
		}
	}
	return nil
}

// serviceIP returns the n-th address of the Service CIDR.
func (c Config) serviceIP(n byte) string {
	_, ipn, _ := net.ParseCIDR(c.ServiceCIDR)
	ip := ipn.IP.To4()
	out := net.IPv4(ip[0], ip[1], ip[2], ip[3]+n)
	return out.String()
}

// APIServerIP is the ClusterIP of the kubernetes Service.
func (c Config) APIServerIP() string { return c.serviceIP(1) }

// DNSServiceIP is the ClusterIP of the kube-dns Service (CoreDNS).
func (c Config) DNSServiceIP() string { return c.serviceIP(10) }

// Cluster is a running (or partly started) local cluster.
type Cluster struct {
	cfg Config
	st  *state

	mu     sync.Mutex
	exited map[string]chan struct{} // closed when a process started by this process exits
	downed bool
}

// Paths inside WorkDir.
func (c *Cluster) dir(parts ...string) string {
	return filepath.Join(append([]string{c.cfg.WorkDir}, parts...)...)
}
func (c *Cluster) logPath(name string) string { return c.dir("logs", name+".log") }
func (c *Cluster) bin(name string) string     { return filepath.Join(c.cfg.BinDir, name) }
func (c *Cluster) containerdSock() string     { return c.dir("containerd", "containerd.sock") }

// Kubeconfig returns the path of the admin kubeconfig (system:masters).
func (c *Cluster) Kubeconfig() string { return c.dir("kubeconfig", "admin.kubeconfig") }

// Config returns the effective configuration (defaults filled in).
func (c *Cluster) Config() Config { return c.cfg }

// ContainerdSocket returns the path of the private containerd socket.
func (c *Cluster) ContainerdSocket() string { return c.containerdSock() }

// Registry returns the host:port of the node's image registry (CNCF
// distribution, plain HTTP on NodeIP). containerd pulls from it; anything
// on this machine can push to it, e.g. images.Push(…, Registry()+"/name:tag", true).
func (c *Cluster) Registry() string { return fmt.Sprintf("%s:%d", c.cfg.NodeIP, registryPort) }

// PauseImage is the sandbox image (containerd's sandbox_image): the pause
// program, pushed to the node's registry during Up and pulled from there.
func (c *Cluster) PauseImage() string { return c.Registry() + "/zmq-e2e/pause:1" }

// LogDir returns the directory of the component logs (kept by Down).
func (c *Cluster) LogDir() string { return c.dir("logs") }

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.cfg.Log, format+"\n", args...)
}

// Kubectl runs the cluster's kubectl with the admin kubeconfig and returns
// its stdout; the error includes stderr.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return c.kubectlIn(ctx, "", args...)
}

// kubectlIn is Kubectl with stdin.
func (c *Cluster) kubectlIn(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin("kubectl"), append([]string{"--kubeconfig", c.Kubeconfig()}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Apply applies a YAML manifest with kubectl apply --server-side.
func (c *Cluster) Apply(ctx context.Context, manifest string) error {
	_, err := c.kubectlIn(ctx, manifest, "apply", "--server-side", "--force-conflicts", "-f", "-")
	return err
}

// ImportImage loads a docker-archive or OCI tarball into the cluster's
// containerd (namespace k8s.io), so pods can use it with imagePullPolicy
// Never or IfNotPresent.
func (c *Cluster) ImportImage(ctx context.Context, tarball string) error {
	_, err := run(ctx, "ctr", "--address", c.containerdSock(), "--namespace", "k8s.io",
		"images", "import", tarball)
	if err != nil {
		return fmt.Errorf("import %s: %w", tarball, err)
	}
	return nil
}

// Attach returns the cluster recorded in workDir/state.json (started by this
// or another process), so that it can be inspected or torn down with Down.
func Attach(workDir string) (*Cluster, error) {
	abs, err := filepath.Abs(workDir)
	if err != nil {
		return nil, err
	}
	return attach(abs, os.Stderr)
}

// attach is Attach for an absolute workDir, logging to log.
func attach(workDir string, log io.Writer) (*Cluster, error) {
	st, err := loadState(workDir)
	if err != nil {
		return nil, fmt.Errorf("no cluster state in %s: %w", workDir, err)
	}
	cfg := st.Config
	cfg.Log = log
	return &Cluster{cfg: cfg, st: st, exited: map[string]chan struct{}{}}, nil
}

// SetLog redirects progress output (for an attached cluster).
func (c *Cluster) SetLog(w io.Writer) { c.cfg.Log = w }

// Status describes the recorded processes.
type Status struct {
	Ready bool         // Up completed
	Procs []ProcStatus // in start order
	Since time.Time    // when Up started
}

// ProcStatus is one component process.
type ProcStatus struct {
	Name  string
	PID   int
	Alive bool
	Log   string
}

// Status reports which recorded processes are alive.
func (c *Cluster) Status() Status {
	s := Status{Ready: c.st.Ready, Since: c.st.Started}
	for _, p := range c.st.Procs {
		s.Procs = append(s.Procs, ProcStatus{Name: p.Name, PID: p.PID, Alive: p.alive(), Log: p.Log})
	}
	return s
}
