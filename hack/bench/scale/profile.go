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
// /debug/pprof/profile, on by default with --profiling) over the first d
// of a phase, into path, in the background. The returned wait blocks
// until the profile is written (or the context ends) and returns its
// error; a profile says where the API server's CPU went, which the CPU
// lines only sum.
func apiserverProfile(ctx context.Context, cfg *rest.Config, d time.Duration, path string) (wait func() error) {
	done := make(chan error, 1)
	go func() { done <- fetchProfile(ctx, cfg, d, path) }()
	return func() error {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func fetchProfile(ctx context.Context, cfg *rest.Config, d time.Duration, path string) error {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(cfg.Host, "/"), int(math.Ceil(d.Seconds())))
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("kube-apiserver profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("kube-apiserver profile: %s: %s", resp.Status, b)
	}
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
