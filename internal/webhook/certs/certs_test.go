package certs

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

func selfSigned() Config {
	return Config{
		Mode: SelfSigned, CertDir: "/certs", Namespace: "ops",
		SecretName: "cert", ServiceName: "hook", WebhookConfigName: "vwc",
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	_, err := ParseMode("selfsigned")
	if err == nil || !strings.Contains(err.Error(), "self-signed") {
		t.Errorf("ParseMode(selfsigned): error %v should list the valid modes", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := selfSigned().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		flag   string
	}{
		{"no namespace", func(c *Config) { c.Namespace = "" }, "--webhook-namespace"},
		{"no secret", func(c *Config) { c.SecretName = "" }, "--webhook-secret-name"},
		{"no service", func(c *Config) { c.ServiceName = "" }, "--webhook-service-name"},
		{"no webhook configuration", func(c *Config) { c.WebhookConfigName = "" }, "--webhook-config-name"},
		{"no cert dir", func(c *Config) { c.CertDir = "" }, "--webhook-cert-dir"},
		{"unknown mode", func(c *Config) { c.Mode = "vault" }, "vault"},
	} {
		c := selfSigned()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%s: error %v should name %s", tc.name, err, tc.flag)
		}
	}
	// The other modes need none of the self-signed settings.
	for _, m := range []Mode{CertManager, None} {
		if err := (Config{Mode: m}).Validate(); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	if got := selfSigned().DNSName(); got != "hook.ops.svc" {
		t.Errorf("DNSName = %q", got)
	}
}

func TestCacheOptions(t *testing.T) {
	base := cache.Options{ByObject: map[client.Object]cache.ByObject{&corev1.ConfigMap{}: {}}}
	for _, m := range []Mode{CertManager, None} {
		p, _ := New(Config{Mode: m})
		if got := p.CacheOptions(base); len(got.ByObject) != 1 {
			t.Errorf("%s: ByObject = %v, want it unchanged", m, got.ByObject)
		}
	}
	p, err := New(selfSigned())
	if err != nil {
		t.Fatal(err)
	}
	got := p.CacheOptions(base)
	if len(base.ByObject) != 1 {
		t.Errorf("the caller's options were changed: %v", base.ByObject)
	}
	seen := map[string]bool{}
	for obj, by := range got.ByObject {
		switch obj.(type) {
		case *corev1.Secret:
			seen["secret"] = true
			if _, ok := by.Namespaces["ops"]; !ok || len(by.Namespaces) != 1 {
				t.Errorf("Secrets cached in %v, want only ops", by.Namespaces)
			}
			if by.Field == nil || by.Field.String() != "metadata.name=cert" {
				t.Errorf("Secret field selector %v, want metadata.name=cert", by.Field)
			}
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			seen["vwc"] = true
			if by.Field == nil || by.Field.String() != "metadata.name=vwc" {
				t.Errorf("webhook configuration field selector %v, want metadata.name=vwc", by.Field)
			}
		case *corev1.ConfigMap:
			seen["configmap"] = true
		}
	}
	if len(seen) != 3 {
		t.Errorf("ByObject has %v, want the caller's ConfigMaps, Secrets and webhook configurations", seen)
	}
}

// fakeServer records Start.
type fakeServer struct {
	webhook.Server
	started chan struct{}
}

func (f *fakeServer) Start(ctx context.Context) error {
	close(f.started)
	<-ctx.Done()
	return nil
}

func (f *fakeServer) StartedChecker() healthz.Checker {
	return func(*http.Request) error { return errors.New("not started") }
}

func TestGatedServerWaitsForReady(t *testing.T) {
	ready := make(chan struct{})
	inner := &fakeServer{started: make(chan struct{})}
	s := &gatedServer{Server: inner, ready: ready}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()

	select {
	case <-inner.started:
		t.Fatal("the server started before the certificate was ready")
	case <-time.After(100 * time.Millisecond):
	}
	if s.StartedChecker()(nil) == nil {
		t.Error("the started checker must be the inner server's")
	}
	close(ready)
	select {
	case <-inner.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not start once ready")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Stopped before ready: Start returns without serving.
	ctx2, cancel2 := context.WithCancel(context.Background())
	inner2 := &fakeServer{started: make(chan struct{})}
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	if err := (&gatedServer{Server: inner2, ready: make(chan struct{})}).Start(ctx2); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inner2.started:
		t.Fatal("started although never ready")
	default:
	}
}

func TestProvisionerReleasesAtOnceWithoutRotator(t *testing.T) {
	p, err := New(Config{Mode: CertManager, CertDir: "/certs"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled() {
		t.Error("cert-manager mode runs the webhook server")
	}
	if err := p.AddToManager(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.ready:
	default:
		t.Error("cert-manager mode must not hold the server back")
	}
	if p, _ := New(Config{Mode: None}); p.Enabled() {
		t.Error("mode none runs no webhook server")
	}
}
