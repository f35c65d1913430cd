package cluster

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{WorkDir: "w", BinDir: "b"}
	if err := c.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(c.WorkDir) || c.NodeIP != "10.250.0.1" || c.PodCIDR != "10.244.0.0/24" || c.ClusterDomain != "cluster.local" {
		t.Errorf("defaults: %+v", c)
	}
	if c.APIServerIP() != "10.96.0.1" || c.DNSServiceIP() != "10.96.0.10" {
		t.Errorf("service IPs %s %s", c.APIServerIP(), c.DNSServiceIP())
	}
	for _, bad := range []Config{{BinDir: "b"}, {WorkDir: "w"}, {WorkDir: "w", BinDir: "b", NodeIP: "::1"}, {WorkDir: "w", BinDir: "b", PodCIDR: "x"}} {
		if err := bad.setDefaults(); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func TestSplitRule(t *testing.T) {
	got := splitRule(`FORWARD -i zmqe2e0 ! -o zmqe2e0 -m comment --comment "zmq-e2e: pods stay on this machine" -j DROP`)
	want := []string{"FORWARD", "-i", "zmqe2e0", "!", "-o", "zmqe2e0", "-m", "comment", "--comment", "zmq-e2e: pods stay on this machine", "-j", "DROP"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}

func TestPKI(t *testing.T) {
	dir := t.TempDir()
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.issue(certSpec{name: "kubelet", cn: "system:node:n", orgs: []string{"system:nodes"}, client: true}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "kubelet.crt"))
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}
	if cert.Subject.CommonName != "system:node:n" || cert.Subject.Organization[0] != "system:nodes" {
		t.Errorf("subject %v", cert.Subject)
	}
	if err := p.serviceAccountKeys(); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "k.kubeconfig")
	if err := p.kubeconfig(kc, "https://10.250.0.1:6443", "kubelet"); err != nil {
		t.Fatal(err)
	}
	kb, _ := os.ReadFile(kc)
	if !strings.Contains(string(kb), "server: https://10.250.0.1:6443") || !strings.Contains(string(kb), "client-key-data:") {
		t.Errorf("kubeconfig:\n%s", kb)
	}
}

func TestConfigFilesMentionWorkDir(t *testing.T) {
	c := &Cluster{cfg: Config{WorkDir: "/w", BinDir: "/b"}}
	if err := c.cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"containerd": c.containerdConfig(), "kubelet": c.kubeletConfig(), "proxy": c.proxyConfig(), "cni": c.cniConfig(), "corefile": c.corefile()} {
		if !strings.Contains(s, "/w/") {
			t.Errorf("%s config does not use WorkDir:\n%s", name, s)
		}
	}
	if !strings.Contains(c.containerdConfig(), "restrict_oom_score_adj = true") {
		t.Error("containerd: restrict_oom_score_adj missing")
	}
	if !strings.Contains(c.proxyConfig(), `nodePortAddresses: ["10.250.0.1/32"]`) {
		t.Error("kube-proxy: nodePortAddresses not limited")
	}
}

func TestUpUnsupportedWithoutBinaries(t *testing.T) {
	_, err := Up(context.Background(), Config{WorkDir: t.TempDir(), BinDir: t.TempDir(), Log: &strings.Builder{}})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("want ErrUnsupported, got %v", err)
	}
	if os.Geteuid() == 0 && !strings.Contains(err.Error(), "hack/build-k8s.sh") {
		t.Errorf("error does not say how to build the binaries: %v", err)
	}
}
