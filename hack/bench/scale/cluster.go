package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// cluster is the benchmark's control plane on loopback: etcd and
// kube-apiserver (started by envtest on free loopback ports), the
// Deployment, ReplicaSet and StatefulSet controllers of
// kube-controller-manager, kube-scheduler, and kwok, which plays the
// kubelet of fake nodes so that pods become Running and Ready.
type cluster struct {
	env        *envtest.Environment
	cfg        *rest.Config
	kubeconfig string // an admin (system:masters) kubeconfig
	dir        string
	procs      []*process
}

// clusterConfig says where the binaries are and how fast the built-in
// controllers may talk to the API server.
type clusterConfig struct {
	k8sBin  string // etcd, kube-apiserver, kube-controller-manager, kube-scheduler
	kwok    string // the kwok binary
	kwokDir string // the kwok module, for its stage definitions
	crdDir  string
	nodes   int
	kcmQPS  int // kube-controller-manager's and kube-scheduler's client QPS (burst 2x)
}

// process is a child process with its log file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

func startProcess(dir, name string, bin string, args []string, env ...string) (*process, error) {
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, so that a Ctrl-C of the benchmark reaches
	// the benchmark first, which then stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: f, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.log.Close()
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startCluster starts the control plane and the fake nodes and waits until
// the nodes are Ready.
func startCluster(ctx context.Context, cc clusterConfig, dir string) (_ *cluster, err error) {
	c := &cluster{dir: dir}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	c.env = &envtest.Environment{
		BinaryAssetsDirectory: cc.k8sBin,
		CRDDirectoryPaths:     []string{cc.crdDir},
		ErrorIfCRDPathMissing: true,
	}
	api := c.env.ControlPlane.GetAPIServer()
	// envtest's default range holds 254 Services; the benchmark needs
	// two per topology.
	api.Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	api.Configure().Set("max-requests-inflight", "800")
	api.Configure().Set("max-mutating-requests-inflight", "400")
	if c.cfg, err = c.env.Start(); err != nil {
		return nil, fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	admin, err := c.env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return nil, err
	}
	c.kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(c.kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	c.cfg = admin.Config()

	qps, burst := fmt.Sprint(cc.kcmQPS), fmt.Sprint(2*cc.kcmQPS)
	kcm, err := startProcess(dir, "kube-controller-manager", filepath.Join(cc.k8sBin, "kube-controller-manager"), []string{
		"--kubeconfig=" + c.kubeconfig,
		"--controllers=deployment-controller,replicaset-controller,statefulset-controller",
		"--leader-elect=false", "--secure-port=0",
		"--kube-api-qps=" + qps, "--kube-api-burst=" + burst,
	})
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, kcm)

	schedConfig := filepath.Join(dir, "scheduler.yaml")
	if err := os.WriteFile(schedConfig, []byte(fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: %s
  burst: %s
leaderElection:
  leaderElect: false
`, c.kubeconfig, qps, burst)), 0o600); err != nil {
		return nil, err
	}
	sched, err := startProcess(dir, "kube-scheduler", filepath.Join(cc.k8sBin, "kube-scheduler"), []string{
		"--config=" + schedConfig, "--secure-port=0",
	})
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, sched)

	stages := []string{
		filepath.Join(cc.kwokDir, "kustomize", "stage", "node", "fast", "node-initialize.yaml"),
		filepath.Join(cc.kwokDir, "kustomize", "stage", "pod", "fast", "pod-ready.yaml"),
		filepath.Join(cc.kwokDir, "kustomize", "stage", "pod", "fast", "pod-complete.yaml"),
		filepath.Join(cc.kwokDir, "kustomize", "stage", "pod", "fast", "pod-delete.yaml"),
	}
	kwok, err := startProcess(dir, "kwok", cc.kwok, []string{
		"--kubeconfig=" + c.kubeconfig,
		"--config=" + strings.Join(stages, ","),
		"--manage-all-nodes=true",
		"--cidr=10.128.0.0/12",
		"--node-ip=127.0.0.1",
	})
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, kwok)

	cl, err := client.New(c.cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	for i := 0; i < cc.nodes; i++ {
		if err := cl.Create(ctx, fakeNode(fmt.Sprintf("kwok-node-%d", i))); err != nil {
			return nil, fmt.Errorf("creating fake node: %w", err)
		}
	}
	err = poll(ctx, 2*time.Minute, func() (bool, error) {
		for _, p := range c.procs {
			if p.exited() {
				return false, fmt.Errorf("%s exited; see %s", p.name, p.log.Name())
			}
		}
		var nodes corev1.NodeList
		if err := cl.List(ctx, &nodes); err != nil {
			return false, nil
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == cc.nodes, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d fake nodes to be Ready: %w", cc.nodes, err)
	}
	// The API server taints new nodes not-ready (TaintNodesByCondition);
	// the node lifecycle controller, which would lift the taint, does not
	// run here (it would need kubelet heartbeats).
	var nodes corev1.NodeList
	if err := cl.List(ctx, &nodes); err != nil {
		return nil, err
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		n.Spec.Taints = nil
		if err := cl.Update(ctx, n); err != nil {
			return nil, fmt.Errorf("removing the taints of node %s: %w", n.Name, err)
		}
	}
	return c, nil
}

// fakeNode is a node that kwok manages, large enough for any pod count.
func fakeNode(name string) *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourcePods:   resource.MustParse("5000"),
		corev1.ResourceCPU:    resource.MustParse("1000"),
		corev1.ResourceMemory: resource.MustParse("4Ti"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": name},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
}

// stop tears everything down, in reverse order of start.
func (c *cluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(10 * time.Second)
	}
	c.procs = nil
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stopping etcd and kube-apiserver:", err)
		}
		c.env = nil
	}
}

// poll calls cond every second until it is true, returns an error, or
// timeout passes.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
