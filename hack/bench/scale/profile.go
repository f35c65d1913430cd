package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// apiserverProfile records a CPU profile of kube-apiserver (its
// /debug/pprof/profile, on by default with --profiling) over d from now,
// into path, in the background: a profile says where the API server's CPU
// went, which the CPU lines only sum. The returned done waits for it and
// prints where it is, what it covers, or why there is none; a missing
// profile voids no measurement.
func apiserverProfile(ctx context.Context, cfg *rest.Config, d time.Duration, path, what string) (done func()) {
	errc := make(chan error, 1)
	go func() { errc <- fetchProfile(ctx, cfg, d, path) }()
	return func() {
		var err error
		select {
		case err = <-errc:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			fmt.Printf("  no kube-apiserver CPU profile: %v\n", err)
			return
		}
		fmt.Printf("  kube-apiserver CPU profile %s: %s\n", what, path)
	}
}

func fetchProfile(ctx context.Context, cfg *rest.Config, d time.Duration, path string) error {
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	resp, err := apiserverGet(ctx, cfg, fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(math.Ceil(d.Seconds()))))
	if err != nil {
		return fmt.Errorf("kube-apiserver profile: %w", err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		os.Remove(path) // no partial profile
		return err
	}
	return f.Close()
}

// apiserverGet GETs path from the API server with cfg's credentials and
// returns the response if its status is 200 OK (the caller closes its
// body), else an error quoting the start of the body.
func apiserverGet(ctx context.Context, cfg *rest.Config, path string) (*http.Response, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return resp, nil
}
