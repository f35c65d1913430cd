//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSecureMetrics scrapes the manager's metrics endpoint as config/default
// installs it (--metrics-secure: HTTPS, authenticated and authorized): no
// token is refused, a ServiceAccount without the metrics-reader role is
// forbidden, and one bound to zmq-operator-metrics-reader reads the metrics.
func TestSecureMetrics(t *testing.T) {
	ctx := e2eOnly(t)
	ns := newNamespace(ctx, t, "e2e-metrics")
	ip := strings.TrimSpace(mustKubectl(ctx, t, "-n", "zmq-operator-system", "get", "pods",
		"-l", "app.kubernetes.io/component=manager", "-o", "jsonpath={.items[0].status.podIP}"))
	url := "https://" + ip + ":8443/metrics"

	mustKubectl(ctx, t, "-n", ns, "create", "serviceaccount", "scraper")
	mustKubectl(ctx, t, "-n", ns, "create", "serviceaccount", "stranger")
	binding := "e2e-metrics-scraper"
	mustKubectl(ctx, t, "create", "clusterrolebinding", binding,
		"--clusterrole=zmq-operator-metrics-reader", "--serviceaccount="+ns+":scraper")
	t.Cleanup(func() { _, _ = kubectl(context.Background(), "delete", "clusterrolebinding", binding) })
	token := func(sa string) string {
		return strings.TrimSpace(mustKubectl(ctx, t, "-n", ns, "create", "token", sa))
	}

	code, _, err := scrape(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("without a token: HTTP %d; want 401 or 403", code)
	}
	if code, _, err := scrape(ctx, url, token("stranger")); err != nil || code != http.StatusForbidden {
		t.Errorf("a token without metrics-reader: HTTP %d, %v; want 403", code, err)
	}
	scraper := token("scraper")
	// The new ClusterRoleBinding reaches the authorizer's cache within a
	// moment; the filter caches no denial.
	eventually(t, 30*time.Second, "metrics-reader token reads /metrics", func() error {
		code, body, err := scrape(ctx, url, scraper)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("HTTP %d: %s", code, body)
		}
		if !strings.Contains(body, "controller_runtime_reconcile_total") {
			return fmt.Errorf("no controller-runtime metrics in %d bytes", len(body))
		}
		return nil
	})
}

// scrape GETs url over HTTPS (the manager's certificate is self-signed),
// with a bearer token unless it is empty.
func scrape(ctx context.Context, url, token string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed by design
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
