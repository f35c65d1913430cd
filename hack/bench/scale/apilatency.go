package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// apiCall is one kind of request the API server served in a phase: its
// verb, group, resource and subresource (and "dry run"), how many,
// and their mean latency (apiserver_request_duration_seconds, from the
// request's arrival to its response, so waits inside the API server count:
// a queue in front of etcd, a lock such as the one around dynamic
// ClusterIP allocation).
type apiCall struct {
	call  string
	count float64
	mean  time.Duration
}

// apiserverMetrics reads the API server's metrics.
func apiserverMetrics(ctx context.Context, cfg *rest.Config) (scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := apiserverGet(ctx, cfg, "/metrics")
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver metrics: %w", err)
	}
	defer resp.Body.Close()
	return readScrape(resp.Body)
}

// callsBetween sums apiserver_request_duration_seconds by verb, API
// group, resource, subresource and dry run, from before to after (two
// scrapes of one API server), and returns the requests other than watches
// by kind, the longest in total (count times mean) first.
func callsBetween(before, after scrape) []apiCall {
	sums, counts := map[string]float64{}, map[string]float64{}
	add := func(sc scrape, sign float64) {
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
			into[callName(s.labels)] += sign * s.value
		}
	}
	add(after, 1)
	add(before, -1)
	var out []apiCall
	for call, n := range counts {
		if n <= 0 {
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

// callName is "VERB group/resource/subresource (dry run)", without the
// core group's empty name.
func callName(l map[string]string) string {
	r := l["resource"]
	if g := l["group"]; g != "" {
		r = g + "/" + r
	}
	if sub := l["subresource"]; sub != "" {
		r += "/" + sub
	}
	name := l["verb"] + " " + r
	if l["dry_run"] != "" {
		name += " (dry run)"
	}
	return name
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

// phaseCalls is the API server's request tally at the start of a phase;
// report prints what the phase added to it.
type phaseCalls struct {
	cfg    *rest.Config
	before scrape
	err    error
}

func startCalls(ctx context.Context, cfg *rest.Config) phaseCalls {
	sc, err := apiserverMetrics(ctx, cfg)
	return phaseCalls{cfg: cfg, before: sc, err: err}
}

// report prints what the API server spent its request time on since
// startCalls; a failed scrape is reported, not fatal.
func (p phaseCalls) report(ctx context.Context, phase string) {
	after, err := apiserverMetrics(ctx, p.cfg)
	if err = errors.Join(p.err, err); err != nil {
		fmt.Printf("  %s: %v\n", phase, err)
		return
	}
	fmt.Printf("  %s: the API server's requests by total time (count×mean latency): %s\n", phase, formatCalls(callsBetween(p.before, after), 8))
}
