package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/zmq-operator/zmq-operator/controllers"
)

// TestSelfSignedRotator runs the self-signed mode against a real API server
// (envtest), as the operator's service account: with only the RBAC that
// config/rbac/role.yaml grants, and with the manager options of main.go
// that matter here (read-your-writes consistency, narrowed caches). The
// test plays the kubelet, copying the Secret into the certificate
// directory. It checks that the server does not listen before the
// certificate is in place, that the rotator fills the Secret and the webhook
// configuration's caBundle, and that the server then serves a certificate
// for <service>.<namespace>.svc signed by that CA.
func TestSelfSignedRotator(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		dir := filepath.Join("..", "..", "..", "bin", "k8s", fmt.Sprintf("1.37.2-%s-%s", runtime.GOOS, runtime.GOARCH))
		if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err == nil {
			assets = dir
		}
	}
	if assets == "" {
		t.Skip("no control plane binaries: run `make k8s-bins` or set KUBEBUILDER_ASSETS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	}()
	scheme := k8sruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	const ns, user = "zmq-operator-system", "system:serviceaccount:zmq-operator-system:zmq-operator-controller-manager"
	c := Config{
		Mode: SelfSigned, CertDir: t.TempDir(), Namespace: ns,
		SecretName: "zmq-operator-webhook-server-cert", ServiceName: "zmq-operator-webhook-service",
		WebhookConfigName: "zmq-operator-validating-webhook-configuration",
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	must(admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: c.SecretName, Namespace: ns}}))
	// A configuration that no request matches, so that it cannot disturb
	// the API server while its caBundle is being filled in.
	must(admin.Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: c.WebhookConfigName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "vnothing.certs.test",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
				Namespace: ns, Name: c.ServiceName, Path: ptr.To("/validate"),
			}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{"nothing.certs.test"}, APIVersions: []string{"v1"}, Resources: []string{"nothings"}},
			}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Ignore),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}))
	grantGeneratedRBAC(ctx, t, admin, ns, user)

	sa, err := env.ControlPlane.AddUser(envtest.User{Name: user}, nil)
	must(err)
	p, err := New(c)
	must(err)
	port := freePort(t)
	mgr, err := ctrl.NewManager(sa.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  p.CacheOptions(controllers.CacheOptions()),
		Client:                 client.Options{Cache: &client.CacheOptions{EnableReadYourWritesConsistency: ptr.To(true)}},
		WebhookServer:          p.Server(webhook.Options{Host: "127.0.0.1", Port: port}),
	})
	must(err)
	must(p.AddToManager(mgr))
	started := mgr.GetWebhookServer().StartedChecker()
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	// The rotator fills the Secret; until the files are in the certificate
	// directory, the server must not listen.
	var secret corev1.Secret
	eventually(t, 60*time.Second, "the rotator fills the Secret", func() error {
		if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.SecretName}, &secret); err != nil {
			return err
		}
		for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
			if len(secret.Data[k]) == 0 {
				return fmt.Errorf("no %s yet", k)
			}
		}
		return nil
	})
	time.Sleep(time.Second)
	if err := started(nil); err == nil {
		t.Fatal("the webhook server serves before its certificate is mounted")
	}

	// The kubelet mounts the Secret.
	for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
		must(os.WriteFile(filepath.Join(c.CertDir, k), secret.Data[k], 0o600))
	}
	eventually(t, 60*time.Second, "the caBundle is injected", func() error {
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		if err := admin.Get(ctx, client.ObjectKey{Name: c.WebhookConfigName}, &vwc); err != nil {
			return err
		}
		if !bytes.Equal(vwc.Webhooks[0].ClientConfig.CABundle, secret.Data["ca.crt"]) {
			return errors.New("caBundle is not the Secret's ca.crt")
		}
		return nil
	})
	eventually(t, 60*time.Second, "the webhook server serves", func() error { return started(nil) })

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(secret.Data["ca.crt"]) {
		t.Fatal("ca.crt is not PEM")
	}
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), &tls.Config{RootCAs: roots, ServerName: c.DNSName()})
	if err != nil {
		t.Fatalf("the served certificate does not verify for %s against the injected CA: %v", c.DNSName(), err)
	}
	_ = conn.Close()
}

// grantGeneratedRBAC creates the roles that `make manifests` generated into
// config/rbac/role.yaml (the namespaced one in ns) and binds them to user.
func grantGeneratedRBAC(ctx context.Context, t *testing.T, admin client.Client, ns, user string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		var obj struct {
			Kind     string            `json:"kind"`
			Metadata metav1.ObjectMeta `json:"metadata"`
			Rules    []rbacv1.PolicyRule
		}
		if err := dec.Decode(&obj); err != nil {
			break
		}
		name := "generated-" + obj.Metadata.Name
		switch obj.Kind {
		case "ClusterRole":
			mustCreate(ctx, t, admin, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: obj.Rules})
			mustCreate(ctx, t, admin, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}})
		case "Role":
			mustCreate(ctx, t, admin, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: obj.Rules})
			mustCreate(ctx, t, admin, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
		}
	}
}

func mustCreate(ctx context.Context, t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually retries f every 100 ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
