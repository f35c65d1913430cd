package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// apiCall is one kind of request the API server served in a phase: its
// verb, resource and subresource (and "dry run" for dry runs), how many,
// and their mean latency (apiserver_request_duration_seconds, from the
// request's arrival to its response, so waits inside the API server count:
// a queue in front of etcd, a lock such as the one around dynamic
// ClusterIP allocation).
type apiCall struct {
	call  string
	count float64
	mean  time.Duration
}

// apiserverCalls reads the API server's metrics and returns its requests
// other than watches, by kind, the longest in total (count times mean)
// first.
func apiserverCalls(ctx context.Context, cfg *rest.Config) ([]apiCall, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	sc, err := fetchMetricsFrom(ctx, hc, strings.TrimSuffix(cfg.Host, "/")+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver metrics: %w", err)
	}
	return callsOf(sc), nil
}

// callsOf sums apiserver_request_duration_seconds by verb, resource,
// subresource and dry run.
func callsOf(sc scrape) []apiCall {
	sums, counts := map[string]float64{}, map[string]float64{}
	for _, s := range sc {
		var into map[string]float64
		switch s.name {
		case "apiserver_request_duration_seconds_sum":
			into = sums
		case "apiserver_request_duration_seconds_count":
			into = counts
		default:
			continue
		}
		if s.labels["verb"] == "WATCH" || s.labels["verb"] == "CONNECT" {
			continue // long-running: their duration is how long they were open
		}
		call := s.labels["verb"] + " " + s.labels["resource"]
		if sub := s.labels["subresource"]; sub != "" {
			call += "/" + sub
		}
		if s.labels["dry_run"] != "" {
			call += " (dry run)"
		}
		into[call] += s.value
	}
	var out []apiCall
	for call, n := range counts {
		if n == 0 {
			continue
		}
		out = append(out, apiCall{call: call, count: n, mean: time.Duration(sums[call] / n * float64(time.Second))})
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].count*float64(out[i].mean), out[j].count*float64(out[j].mean)
		if ti != tj {
			return ti > tj
		}
		return out[i].call < out[j].call
	})
	return out
}

// formatCalls prints the first n calls as "verb resource count×mean".
func formatCalls(calls []apiCall, n int) string {
	parts := make([]string, 0, n)
	for i, c := range calls {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f×%s", c.call, c.count, c.mean.Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// printCalls prints what the API server spent its request time on in a
// phase, from its start to all ready.
func printCalls(ctx context.Context, phase string, cfg *rest.Config) {
	calls, err := apiserverCalls(ctx, cfg)
	if err != nil {
		fmt.Printf("  %s: %v\n", phase, err)
		return
	}
	fmt.Printf("  %s: the API server's requests by total time (count×mean latency): %s\n", phase, formatCalls(calls, 8))
}
