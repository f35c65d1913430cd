// Package certs decides where the webhook server's serving certificate
// comes from, and keeps the server from serving before it has one.
//
// Three modes:
//   - self-signed (the default install): the operator is its own CA.
//     github.com/open-policy-agent/cert-controller's rotator writes a CA and
//     a serving certificate into a Secret of the operator's namespace, which
//     the manager's pod mounts as its certificate directory, injects the CA
//     into the ValidatingWebhookConfiguration's caBundle, and renews both
//     before they expire. Nothing else has to be installed in the cluster.
//   - cert-manager: cert-manager issues the certificate into the same Secret
//     and its CA injector fills in the caBundle (config/certmanager).
//   - none: no webhook server at all, for running the manager outside the
//     cluster (make run), where the API server could not reach it anyway.
package certs

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Mode names where the serving certificate comes from.
type Mode string

// The certificate modes of --webhook-cert-mode.
const (
	// SelfSigned: the operator issues and rotates its own certificate.
	SelfSigned Mode = "self-signed"
	// CertManager: cert-manager issues the certificate and injects the CA.
	CertManager Mode = "cert-manager"
	// None: the webhook server does not run.
	None Mode = "none"
)

// Modes lists the valid modes, for flag help and errors.
var Modes = []Mode{SelfSigned, CertManager, None}

// ParseMode returns the Mode named s, or an error listing the valid ones.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown webhook certificate mode %q: want one of %v", s, Modes)
}

// The RBAC the rotator needs: its own Secret in the operator's namespace
// (read through a cache of that namespace, hence list and watch), and the
// webhook configuration whose caBundle it fills in. A ValidatingWebhook-
// Configuration is cluster-scoped and the cache lists them all, so this
// part cannot be narrowed to one name.
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=get;list;watch;update
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch;update

// Config says how the webhook server of one manager gets its certificate.
type Config struct {
	// Mode is where the certificate comes from.
	Mode Mode
	// CertDir is the directory the server reads tls.crt and tls.key from;
	// in the self-signed and cert-manager modes the Secret is mounted there.
	CertDir string
	// Namespace is the operator's namespace: where the Secret and the
	// webhook Service live (self-signed mode).
	Namespace string
	// SecretName is the Secret the rotator keeps the CA and the serving
	// certificate in (self-signed mode).
	SecretName string
	// ServiceName is the webhook Service; the certificate is issued for
	// <ServiceName>.<Namespace>.svc, the name the API server dials.
	ServiceName string
	// WebhookConfigName is the ValidatingWebhookConfiguration whose
	// caBundle the rotator keeps up to date (self-signed mode).
	WebhookConfigName string
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return err
	}
	if c.Mode != SelfSigned {
		return nil
	}
	for _, f := range []struct{ flag, v string }{
		{"--webhook-namespace (or POD_NAMESPACE)", c.Namespace},
		{"--webhook-secret-name", c.SecretName},
		{"--webhook-service-name", c.ServiceName},
		{"--webhook-config-name", c.WebhookConfigName},
		{"--webhook-cert-dir", c.CertDir},
	} {
		if f.v == "" {
			return fmt.Errorf("webhook certificate mode %s needs %s", SelfSigned, f.flag)
		}
	}
	return nil
}

// DNSName is the name the API server dials and the certificate is for.
func (c Config) DNSName() string { return c.ServiceName + "." + c.Namespace + ".svc" }

// Provisioner gives a manager a webhook server that serves only once its
// certificate is in place, and, in self-signed mode, the rotator that puts
// it there.
type Provisioner struct {
	cfg   Config
	ready chan struct{}
}

// New checks cfg and returns its Provisioner.
func New(cfg Config) (*Provisioner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Provisioner{cfg: cfg, ready: make(chan struct{})}, nil
}

// Enabled is false in mode none: the manager then runs no webhook server.
func (p *Provisioner) Enabled() bool { return p.cfg.Mode != None }

// Server returns the webhook server to give the manager (ctrl.Options.
// WebhookServer); give it CacheOptions too. In self-signed mode its Start waits until the rotator
// reports the certificate mounted and the CA injected: started earlier, the
// server would fail to read certificate files that do not exist yet. In
// cert-manager mode the kubelet mounts the Secret before the container
// starts, so the server starts at once.
func (p *Provisioner) Server(o webhook.Options) webhook.Server {
	o.CertDir = p.cfg.CertDir
	return &gatedServer{Server: webhook.NewServer(o), ready: p.ready}
}

// CacheOptions returns o with the manager's cache of Secrets and webhook
// configurations narrowed to the two objects the rotator writes (self-signed
// mode; o unchanged otherwise). The rotator writes through the manager's
// client, and a client with read-your-writes consistency starts a cache
// informer for every kind it writes: unnarrowed, that informer would list
// every Secret of the cluster, which the operator's RBAC (Secrets of its own
// namespace only) forbids, and the write would wait for it forever.
func (p *Provisioner) CacheOptions(o cache.Options) cache.Options {
	if p.cfg.Mode != SelfSigned {
		return o
	}
	byObject := make(map[client.Object]cache.ByObject, len(o.ByObject)+2)
	for k, v := range o.ByObject {
		byObject[k] = v
	}
	byObject[&corev1.Secret{}] = cache.ByObject{
		Namespaces: map[string]cache.Config{p.cfg.Namespace: {}},
		Field:      fields.OneTermEqualSelector("metadata.name", p.cfg.SecretName),
	}
	byObject[&admissionregistrationv1.ValidatingWebhookConfiguration{}] = cache.ByObject{
		Field: fields.OneTermEqualSelector("metadata.name", p.cfg.WebhookConfigName),
	}
	o.ByObject = byObject
	return o
}

// AddToManager adds the certificate rotator to mgr in self-signed mode and
// releases the server at once in the other modes. Call it once, after the
// manager is created with Server's result.
func (p *Provisioner) AddToManager(mgr manager.Manager) error {
	if p.cfg.Mode != SelfSigned {
		close(p.ready)
		return nil
	}
	return rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:      types.NamespacedName{Namespace: p.cfg.Namespace, Name: p.cfg.SecretName},
		CertDir:        p.cfg.CertDir,
		CAName:         "zmq-operator-ca",
		CAOrganization: "zmq-operator",
		DNSName:        p.cfg.DNSName(),
		IsReady:        p.ready,
		Webhooks:       []rotator.WebhookInfo{{Name: p.cfg.WebhookConfigName, Type: rotator.Validating}},
		FieldOwner:     "zmq-operator",
		// Every replica serves the webhook, so every replica needs the
		// certificate: the rotator does not wait to be elected.
		RequireLeaderElection: false,
		// The server reads the renewed files itself (certwatcher), so a
		// renewal needs no restart.
		RestartOnSecretRefresh: false,
		// Inject the CA only once the files are in place, so the API server
		// never trusts a certificate that the server does not serve yet.
		EnableReadinessCheck: true,
	})
}

// gatedServer is a webhook.Server whose Start waits for ready.
type gatedServer struct {
	webhook.Server
	ready <-chan struct{}
}

// Start serves once ready is closed, or returns when ctx ends first.
func (s *gatedServer) Start(ctx context.Context) error {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil
	}
	return s.Server.Start(ctx)
}
