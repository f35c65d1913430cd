package cluster

import (
	"context"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	criv1 "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// writeConfigs writes the configuration files of containerd, CNI, kubelet,
// kube-proxy, CoreDNS and the registry.
func (c *Cluster) writeConfigs() error {
	files := map[string]string{
		c.dir("etc", "containerd.toml"):              c.containerdConfig(),
		c.dir("cni", "net.d", "10-zmq-e2e.conflist"): c.cniConfig(),
		c.dir("etc", "kubelet.yaml"):                 c.kubeletConfig(),
		c.dir("etc", "kube-proxy.yaml"):              c.proxyConfig(),
		c.dir("etc", "Corefile"):                     c.corefile(),
		c.dir("etc", "registry.yaml"):                c.registryConfig(),
		// containerd pulls from the node's registry over plain HTTP.
		c.dir("containerd", "certs.d", c.Registry(), "hosts.toml"): fmt.Sprintf("server = %[1]q\n\n[host.%[1]q]\n  capabilities = [\"pull\", \"resolve\"]\n", "http://"+c.Registry()),
		// Pods get only the cluster DNS server and search path: no search
		// domains or resolvers of this machine leak in.
		c.dir("etc", "resolv.conf"): "# local e2e cluster: kubelet adds the cluster DNS server\n",
	}
	for _, host := range []string{"docker.io", "registry.k8s.io", "quay.io", "ghcr.io", "gcr.io", "registry-1.docker.io"} {
		// Any pull from a public registry is sent to a closed loopback port
		// instead: the cluster uses locally imported images only.
		files[c.dir("containerd", "certs.d", host, "hosts.toml")] = "server = \"http://127.0.0.1:1\"\n"
	}
	for p, content := range files {
		if err := os.MkdirAll(dirOf(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func dirOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func (c *Cluster) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[9]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[7]q
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[8]q
`, c.dir("containerd", "root"), c.dir("containerd", "state"), c.containerdSock(), c.dir("containerd", "containerd.sock.ttrpc"),
		c.dir("containerd", "opt"), c.PauseImage(), c.dir("cni", "net.d"), c.dir("containerd", "certs.d"), c.dir("containerd", "runc"))
}

// registryConfig is CNCF distribution's configuration: plain HTTP on
// NodeIP, images kept under WorkDir/registry.
func (c *Cluster) registryConfig() string {
	return fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: %q
`, c.dir("registry"), c.Registry())
}

func (c *Cluster) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": %q,
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    }
  ]
}
`, cniNetwork, bridgeName, c.cfg.PodCIDR, c.dir("cni", "ipam"))
}

func (c *Cluster) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: %[2]d
readOnlyPort: 0
healthzBindAddress: %[1]s
healthzPort: %[3]d
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[4]q}
authorization:
  mode: Webhook
tlsCertFile: %[5]q
tlsPrivateKeyFile: %[6]q
containerRuntimeEndpoint: unix://%[7]s
imageServiceEndpoint: unix://%[7]s
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: %[8]s
clusterDNS: [%[9]s]
resolvConf: %[10]q
podLogsDir: %[11]q
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "2%%"
  nodefs.inodesFree: "2%%"
  imagefs.available: "2%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
maxPods: 110
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
`, c.cfg.NodeIP, kubeletPort, kubeletHealthz, c.dir("pki", "ca.crt"), c.dir("pki", "kubelet-serving.crt"), c.dir("pki", "kubelet-serving.key"),
		c.containerdSock(), c.cfg.ClusterDomain, c.cfg.DNSServiceIP(), c.dir("etc", "resolv.conf"), c.dir("pod-logs"))
}

func (c *Cluster) proxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %[1]q
mode: iptables
bindAddress: %[2]s
healthzBindAddress: %[2]s:%[3]d
metricsBindAddress: %[2]s:%[4]d
hostnameOverride: %[5]s
clusterCIDR: %[6]s
nodePortAddresses: ["%[2]s/32"]
iptables:
  masqueradeAll: true
  localhostNodePorts: false
  syncPeriod: 30s
  minSyncPeriod: 0s
conntrack:
  # leave the host's conntrack sysctls alone
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, c.dir("kubeconfig", "kube-proxy.kubeconfig"), c.cfg.NodeIP, proxyHealthz, proxyMetrics, NodeName, c.cfg.PodCIDR)
}

func (c *Cluster) corefile() string {
	d := c.cfg.ClusterDomain
	return fmt.Sprintf(`# Cluster DNS of the local e2e cluster: only the cluster domain (and reverse
# zones) are served; every other name is NXDOMAIN, nothing is forwarded.
%[1]s:53 in-addr.arpa:53 ip6.arpa:53 {
    bind %[2]s
    errors
    ready %[2]s:%[3]d
    health %[2]s:%[4]d
    kubernetes %[1]s in-addr.arpa ip6.arpa {
        kubeconfig %[5]s zmq-e2e
        pods insecure
        ttl 5
    }
    cache 5
    loadbalance
}
.:53 {
    bind %[2]s
    errors
    template ANY ANY {
        rcode NXDOMAIN
    }
}
`, d, c.cfg.NodeIP, dnsReadyPort, dnsHealthPort, c.dir("kubeconfig", "coredns.kubeconfig"))
}

// bootstrapManifest: CoreDNS's and the NetworkPolicy enforcer's RBAC and
// the kube-dns Service, whose endpoint is CoreDNS on the host (NodeIP:53).
func (c *Cluster) bootstrapManifest() string {
	return fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: zmq-e2e:kube-network-policies
rules:
- apiGroups: [""]
  resources: [pods, namespaces]
  verbs: [list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: zmq-e2e:kube-network-policies
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: zmq-e2e:kube-network-policies
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: zmq-e2e:kube-network-policies
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: zmq-e2e:coredns
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: zmq-e2e:coredns
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: zmq-e2e:coredns
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: zmq-e2e:coredns
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: %[1]s
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: zmq-e2e
addressType: IPv4
endpoints:
- addresses: [%[2]s]
  conditions: {ready: true}
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
`, c.cfg.DNSServiceIP(), c.cfg.NodeIP)
}

func (c *Cluster) etcdArgs() []string {
	ip := c.cfg.NodeIP
	return []string{
		"--name", "zmq-e2e",
		"--data-dir", c.dir("etcd"),
		"--listen-client-urls", fmt.Sprintf("http://%s:%d", ip, etcdPort),
		"--advertise-client-urls", fmt.Sprintf("http://%s:%d", ip, etcdPort),
		"--listen-peer-urls", fmt.Sprintf("http://%s:%d", ip, etcdPeerPort),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://%s:%d", ip, etcdPeerPort),
		"--initial-cluster", fmt.Sprintf("zmq-e2e=http://%s:%d", ip, etcdPeerPort),
		"--unsafe-no-fsync",
		"--log-level", "warn",
	}
}

func (c *Cluster) apiserverArgs() []string {
	pki := func(n string) string { return c.dir("pki", n) }
	return []string{
		"--bind-address", c.cfg.NodeIP,
		"--advertise-address", c.cfg.NodeIP,
		"--secure-port", fmt.Sprint(apiserverPort),
		"--etcd-servers", fmt.Sprintf("http://%s:%d", c.cfg.NodeIP, etcdPort),
		"--service-cluster-ip-range", c.cfg.ServiceCIDR,
		"--client-ca-file", pki("ca.crt"),
		"--tls-cert-file", pki("apiserver.crt"),
		"--tls-private-key-file", pki("apiserver.key"),
		"--kubelet-client-certificate", pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key", pki("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority", pki("ca.crt"),
		"--kubelet-preferred-address-types", "InternalIP,Hostname",
		"--service-account-issuer", "https://kubernetes.default.svc." + c.cfg.ClusterDomain,
		"--service-account-key-file", pki("sa.pub"),
		"--service-account-signing-key-file", pki("sa.key"),
		"--authorization-mode", "Node,RBAC",
		// Aggregation layer (front proxy), so aggregated APIs work and the
		// other components find a request-header CA.
		"--requestheader-client-ca-file", pki("ca.crt"),
		"--requestheader-allowed-names", "front-proxy-client",
		"--requestheader-username-headers", "X-Remote-User",
		"--requestheader-group-headers", "X-Remote-Group",
		"--requestheader-extra-headers-prefix", "X-Remote-Extra-",
		"--proxy-client-cert-file", pki("front-proxy-client.crt"),
		"--proxy-client-key-file", pki("front-proxy-client.key"),
		"--enable-admission-plugins", "NodeRestriction",
		"--allow-privileged=true",
		"--profiling=false",
		"--shutdown-delay-duration=0s",
		"--shutdown-send-retry-after=false",
		"--v=1",
	}
}

func (c *Cluster) kcmArgs() []string {
	kc := c.dir("kubeconfig", "kube-controller-manager.kubeconfig")
	return []string{
		"--kubeconfig", kc,
		"--authentication-kubeconfig", kc,
		"--authorization-kubeconfig", kc,
		"--bind-address", c.cfg.NodeIP,
		"--secure-port", fmt.Sprint(kcmPort),
		"--tls-cert-file", c.dir("pki", "kube-controller-manager-serving.crt"),
		"--tls-private-key-file", c.dir("pki", "kube-controller-manager-serving.key"),
		"--client-ca-file", c.dir("pki", "ca.crt"),
		"--cluster-signing-cert-file", c.dir("pki", "ca.crt"),
		"--cluster-signing-key-file", c.dir("pki", "ca.key"),
		"--root-ca-file", c.dir("pki", "ca.crt"),
		"--service-account-private-key-file", c.dir("pki", "sa.key"),
		"--use-service-account-credentials",
		"--service-cluster-ip-range", c.cfg.ServiceCIDR,
		"--controllers", "*,-bootstrapsigner,-tokencleaner",
		"--kube-api-qps", "100",
		"--kube-api-burst", "200",
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	}
}

func (c *Cluster) schedulerArgs() []string {
	kc := c.dir("kubeconfig", "kube-scheduler.kubeconfig")
	return []string{
		"--kubeconfig", kc,
		"--authentication-kubeconfig", kc,
		"--authorization-kubeconfig", kc,
		"--bind-address", c.cfg.NodeIP,
		"--secure-port", fmt.Sprint(schedulerPort),
		"--tls-cert-file", c.dir("pki", "kube-scheduler-serving.crt"),
		"--tls-private-key-file", c.dir("pki", "kube-scheduler-serving.key"),
		"--client-ca-file", c.dir("pki", "ca.crt"),
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	}
}

func (c *Cluster) kubeletArgs() []string {
	return []string{
		"--config", c.dir("etc", "kubelet.yaml"),
		"--kubeconfig", c.dir("kubeconfig", "kubelet.kubeconfig"),
		"--root-dir", c.dir("kubelet"),
		"--hostname-override", NodeName,
		"--node-ip", c.cfg.NodeIP,
		"--v=1",
	}
}

func (c *Cluster) proxyArgs() []string {
	return []string{"--config", c.dir("etc", "kube-proxy.yaml"), "--v=1"}
}

// netpolArgs run SIG Network's NetworkPolicy enforcer
// (sigs.k8s.io/kube-network-policies, hack/kube-network-policies) for the
// node's pods: fail closed (a packet to or from a pod is dropped while the
// enforcer is down), so that a policy that holds in the e2e suite holds
// for real.
func (c *Cluster) netpolArgs() []string {
	return []string{
		"--kubeconfig", c.dir("kubeconfig", "kube-network-policies.kubeconfig"),
		"--hostname-override", NodeName,
		"--nfqueue-id", fmt.Sprint(netpolQueue),
		"--metrics-bind-address", fmt.Sprintf("%s:%d", c.cfg.NodeIP, netpolMetrics),
		"--v=1",
	}
}

// netpolCheck: the enforcer serves /metrics and its nftables table holds
// the queue rules (the first sync happens once its caches are synced).
func (c *Cluster) netpolCheck(ctx context.Context) error {
	if err := c.httpCheck(nil, fmt.Sprintf("http://%s:%d/metrics", c.cfg.NodeIP, netpolMetrics), "")(ctx); err != nil {
		return err
	}
	out, err := run(ctx, "nft", "list", "table", "inet", netpolTable)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "queue") && !strings.Contains(out, "NFQUEUE") {
		return fmt.Errorf("table inet %s has no queue rule yet", netpolTable)
	}
	return nil
}

func (c *Cluster) registryArgs() []string {
	return []string{"serve", c.dir("etc", "registry.yaml")}
}

func (c *Cluster) corednsArgs() []string {
	return []string{"-conf", c.dir("etc", "Corefile")}
}

func (c *Cluster) startContainerd() error {
	for _, d := range []string{"containerd/root", "containerd/state", "containerd/opt", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(c.dir(d), 0o755); err != nil {
			return err
		}
	}
	return c.start("containerd", "containerd", "--config", c.dir("etc", "containerd.toml"), "--log-level", "info")
}

// criClient dials containerd's CRI endpoint.
func (c *Cluster) criClient(ctx context.Context) (criv1.RuntimeServiceClient, func(), error) {
	conn, err := grpc.NewClient("unix://"+c.containerdSock(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return criv1.NewRuntimeServiceClient(conn), func() { conn.Close() }, nil
}

func (c *Cluster) containerdCheck(ctx context.Context) error {
	if _, err := os.Stat(c.containerdSock()); err != nil {
		return err
	}
	rt, closeFn, err := c.criClient(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	st, err := rt.Status(ctx, &criv1.StatusRequest{})
	if err != nil {
		return err
	}
	for _, cond := range st.GetStatus().GetConditions() {
		if cond.Type == criv1.RuntimeReady && !cond.Status {
			return fmt.Errorf("containerd runtime not ready: %s", cond.Message)
		}
	}
	return nil
}

// setupHost makes (and records) the host changes: NodeIP/32 on lo,
// ip_forward=1, and a FORWARD rule that drops pod traffic leaving through any
// interface other than the cluster bridge.
func (c *Cluster) setupHost(ctx context.Context) error {
	u := &c.st.Undo
	u.KubeChainsPre = nil
	for _, ch := range listChains(ctx) {
		u.KubeChainsPre = append(u.KubeChainsPre, ch.String())
	}
	for _, d := range hostDirs {
		if _, err := os.Stat(d); err != nil {
			u.DirsCreated = append(u.DirsCreated, d)
		}
	}
	for _, cg := range kubeletCgroups() {
		if _, err := os.Stat(cg); err != nil {
			u.CgroupsCreated = append(u.CgroupsCreated, cg)
		}
	}
	if err := c.st.save(); err != nil {
		return err
	}
	if _, err := run(ctx, "ip", "addr", "add", c.cfg.NodeIP+"/32", "dev", "lo"); err != nil {
		return err
	}
	u.LoAddr = true
	if err := c.st.save(); err != nil {
		return err
	}
	old, err := os.ReadFile(ipForwardPath)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(old)) != "1" {
		u.IPForward = strings.TrimSpace(string(old))
		if err := c.st.save(); err != nil {
			return err
		}
		if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
			return err
		}
	}
	rule := []string{"FORWARD", "-i", bridgeName, "!", "-o", bridgeName, "-m", "comment", "--comment", "zmq-e2e: pods stay on this machine", "-j", "DROP"}
	u.DropRule = rule
	if err := c.st.save(); err != nil {
		return err
	}
	if _, err := run(ctx, "iptables", append([]string{"-w", "5", "-I"}, rule...)...); err != nil {
		u.DropRule = nil
		_ = c.st.save()
		return err
	}
	return c.st.save()
}

// hostDirs are directories outside WorkDir that containerd 1.6 (shim
// sockets, netns mounts, CNI result cache) and kubelet (device-plugin socket,
// container log links) use whatever they are configured with.
var hostDirs = []string{"/run/containerd", "/run/netns", "/var/lib/cni", "/var/log/containers", "/var/lib/kubelet"}
