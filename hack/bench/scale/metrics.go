package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape is what the manager's /metrics endpoint said at one moment.
type scrape []sample

// fetchMetrics reads the manager's metrics endpoint.
func fetchMetrics(ctx context.Context, addr string) (scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return readScrape(resp.Body)
}

// readScrape reads the Prometheus text format.
func readScrape(r io.Reader) (scrape, error) {
	var out scrape
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if s, ok := parseSample(sc.Text()); ok {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

// parseSample parses `name{k="v",...} value`; comments and anything it
// does not understand are skipped.
func parseSample(line string) (sample, bool) {
	if line == "" || line[0] == '#' {
		return sample{}, false
	}
	s := sample{labels: map[string]string{}}
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return sample{}, false
		}
		s.name = line[:i]
		for _, kv := range splitLabels(line[i+1 : j]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
			s.labels[k] = v
		}
		rest = strings.TrimSpace(line[j+1:])
	} else {
		name, r, ok := strings.Cut(line, " ")
		if !ok {
			return sample{}, false
		}
		s.name, rest = name, r
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return sample{}, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return sample{}, false
	}
	s.value = v
	return s, true
}

// splitLabels splits on commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// sum adds the samples named name whose labels include match.
func (sc scrape) sum(name string, match map[string]string) float64 {
	total := 0.0
next:
	for _, s := range sc {
		if s.name != name {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue next
			}
		}
		total += s.value
	}
	return total
}

// by sums the samples named name by the value of one label.
func (sc scrape) by(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range sc {
		if s.name == name {
			out[s.labels[label]] += s.value
		}
	}
	return out
}

// requests are the manager's API requests (rest_client_requests_total) by
// method and by status code.
type requests struct {
	byMethod, byCode map[string]float64
}

func requestsOf(sc scrape) requests {
	return requests{byMethod: sc.by("rest_client_requests_total", "method"), byCode: sc.by("rest_client_requests_total", "code")}
}

// minus is the difference r - o.
func (r requests) minus(o requests) requests {
	d := requests{byMethod: map[string]float64{}, byCode: map[string]float64{}}
	for k, v := range r.byMethod {
		if x := v - o.byMethod[k]; x != 0 {
			d.byMethod[k] = x
		}
	}
	for k, v := range r.byCode {
		if x := v - o.byCode[k]; x != 0 {
			d.byCode[k] = x
		}
	}
	return d
}

func (r requests) total() float64 {
	t := 0.0
	for _, v := range r.byMethod {
		t += v
	}
	return t
}

// writes counts every request that is not a read.
func (r requests) writes() float64 {
	w := 0.0
	for m, v := range r.byMethod {
		switch m {
		case "GET", "HEAD", "OPTIONS", "WATCH", "LIST":
		default:
			w += v
		}
	}
	return w
}

func formatCounts(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%.0f", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// procStatus reads the resident set size and its peak (bytes) of a process.
func procStatus(pid int) (rss, peak int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}
