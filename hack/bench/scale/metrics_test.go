package main

import "testing"

func TestParseSampleAndSums(t *testing.T) {
	lines := []string{
		"# HELP rest_client_requests_total Number of HTTP requests.",
		`rest_client_requests_total{code="200",host="127.0.0.1:1",method="GET"} 11`,
		`rest_client_requests_total{code="201",host="127.0.0.1:1",method="PATCH"} 30`,
		`rest_client_requests_total{code="200",host="127.0.0.1:1",method="PATCH"} 5`,
		`rest_client_requests_total{code="201",host="127.0.0.1:1",method="POST"} 2`,
		`workqueue_depth{controller="zmqtopology",name="zmqtopology"} 3`,
		`weird{a="x,y=\"z\"",name="zmqtopology"} 1.5e+00`,
		"process_cpu_seconds_total 4.25",
		`rest_client_rate_limiter_duration_seconds_sum{host="127.0.0.1:1",verb="PATCH"} 2.5`,
		`rest_client_rate_limiter_duration_seconds_sum{host="127.0.0.1:1",verb="POST"} 0.25`,
		`rest_client_rate_limiter_duration_seconds_count{host="127.0.0.1:1",verb="POST"} 9`,
		"garbage",
	}
	var sc scrape
	for _, l := range lines {
		if s, ok := parseSample(l); ok {
			sc = append(sc, s)
		}
	}
	if len(sc) != 10 {
		t.Fatalf("parsed %d samples, want 10: %+v", len(sc), sc)
	}
	if got := sc.sum("workqueue_depth", map[string]string{"name": "zmqtopology"}); got != 3 {
		t.Errorf("workqueue_depth = %v", got)
	}
	if got := sc.sum("weird", map[string]string{"a": `x,y="z"`}); got != 1.5 {
		t.Errorf("quoted label: %v", got)
	}
	if got := sc.sum("process_cpu_seconds_total", nil); got != 4.25 {
		t.Errorf("unlabelled sample: %v", got)
	}
	if got := throttled(sc); got != 2.75 {
		t.Errorf("throttled = %v, want 2.75 (the sums of every verb, not the count)", got)
	}
	r := requestsOf(sc)
	if r.total() != 48 || r.writes() != 37 || r.byMethod["PATCH"] != 35 || r.byCode["201"] != 32 {
		t.Errorf("requests: total %v writes %v by method %v by code %v", r.total(), r.writes(), r.byMethod, r.byCode)
	}
	base := requests{byMethod: map[string]float64{"GET": 11, "PATCH": 35}, byCode: map[string]float64{"200": 16, "201": 30}}
	if d := r.minus(base); d.total() != 2 || d.writes() != 2 || d.byCode["201"] != 2 {
		t.Errorf("difference: %+v", d)
	}
}

func TestCallsOf(t *testing.T) {
	lines := []string{
		`apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="APPLY",version="v1"} 40`,
		`apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="APPLY",version="v1"} 20`,
		`apiserver_request_duration_seconds_sum{component="apiserver",dry_run="All",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 1`,
		`apiserver_request_duration_seconds_count{component="apiserver",dry_run="All",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 10`,
		`apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 3`,
		`apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 30`,
		`apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v2"} 3`,
		`apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v2"} 30`,
		`apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="WATCH",version="v1"} 9000`,
		`apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="WATCH",version="v1"} 3`,
		`apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="nodes",scope="resource",subresource="",verb="GET",version="v1"} 0`,
	}
	var sc scrape
	for _, l := range lines {
		if s, ok := parseSample(l); ok {
			sc = append(sc, s)
		}
	}
	before := scrape{
		{name: "apiserver_request_duration_seconds_sum", labels: map[string]string{"group": "", "resource": "services", "verb": "APPLY"}, value: 10},
		{name: "apiserver_request_duration_seconds_count", labels: map[string]string{"group": "", "resource": "services", "verb": "APPLY"}, value: 15},
		{name: "apiserver_request_duration_seconds_sum", labels: map[string]string{"group": "", "resource": "nodes", "verb": "LIST"}, value: 1},
		{name: "apiserver_request_duration_seconds_count", labels: map[string]string{"group": "", "resource": "nodes", "verb": "LIST"}, value: 4},
	}
	got := formatCalls(callsBetween(before, sc), 5)
	want := "APPLY services 5×6s, PATCH pods/status 60×100ms, APPLY apps/deployments (dry run) 10×100ms"
	if got != want {
		t.Errorf("calls:\n got %s\nwant %s", got, want)
	}
}
