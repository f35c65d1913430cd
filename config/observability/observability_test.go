// Package observability tests the Grafana dashboard and the Prometheus
// alerting rules shipped in config/observability: promtool checks and unit
// tests of the rules, the PrometheusRule in step with the plain rules file,
// and every metric either queries existing in the code.
package observability

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// promtool returns the path of promtool: missing, the test is skipped
// outside CI and fails in CI (hack/prereqs.sh installs Debian's prometheus
// package, which ships it).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found; hack/prereqs.sh installs Debian's prometheus package")
		}
		t.Skip("promtool not found (apt-get install prometheus)")
	}
	return p
}

// TestRulesPassPromtool: `promtool check rules` on both rule files (the
// PrometheusRule's spec extracted) and `promtool test rules` on
// rules_test.yaml, where every alert fires on its series.
func TestRulesPassPromtool(t *testing.T) {
	bin := promtool(t)
	spec := filepath.Join(t.TempDir(), "prometheusrule-spec.yaml")
	raw, err := yaml.Marshal(readYAML(t, "prometheusrule.yaml")["spec"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "rules", "rules.yaml"},
		{"check", "rules", spec},
		{"test", "rules", "rules_test.yaml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestPrometheusRuleMatchesRulesFile: the PrometheusRule carries exactly
// the groups of rules.yaml, which promtool tests.
func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	plain := readYAML(t, "rules.yaml")
	pr := readYAML(t, "prometheusrule.yaml")
	if pr["apiVersion"] != "monitoring.coreos.com/v1" || pr["kind"] != "PrometheusRule" {
		t.Errorf("prometheusrule.yaml is a %v %v", pr["apiVersion"], pr["kind"])
	}
	spec, _ := pr["spec"].(map[string]any)
	if !reflect.DeepEqual(spec["groups"], plain["groups"]) {
		t.Errorf("prometheusrule.yaml's spec.groups differ from rules.yaml's groups: edit both")
	}
	var alerts []string
	for _, g := range plain["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			alerts = append(alerts, r.(map[string]any)["alert"].(string))
		}
	}
	sort.Strings(alerts)
	want := []string{"ZMQDeviceDropsRising", "ZMQLinkDown", "ZMQOperatorDown", "ZMQTopologyNotReady"}
	if !reflect.DeepEqual(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}
}

// dashboard is the part of the Grafana dashboard model the checks read.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a collapsed row's
	GridPos struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// TestDashboard: the dashboard parses, its panels fit Grafana's 24-column
// grid with unique ids, every query panel reads the ${datasource}
// variable, and it covers what it is for: topology readiness, links, RTT,
// device throughput and drops, and probe results.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q", d.Title, d.UID)
	}
	ids := map[int]string{}
	exprs := strings.Builder{}
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: no query on the ${datasource} variable", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: empty query", p.Title)
			}
			exprs.WriteString(tg.Expr + "\n")
		}
	}
	for _, m := range []string{
		"zmq_operator_topology_ready", "zmq_operator_link_up", "zmq_operator_link_connections",
		"zmq_sidecar_peer_ping_rtt_seconds", "zmq_device_received_messages_total",
		"zmq_device_dropped_messages_total", "zmq_sidecar_probes_total",
	} {
		if !strings.Contains(exprs.String(), m) {
			t.Errorf("no panel queries %s", m)
		}
	}
}

// TestQueriedMetricsExist: every zmq_* metric the dashboard (panels and
// variables) and the rules query is a metric name some non-test Go file
// of the operator module declares, so a renamed metric cannot leave an
// empty panel or an alert that never fires.
func TestQueriedMetricsExist(t *testing.T) {
	d := readDashboard(t)
	var queries []string
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			queries = append(queries, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		queries = append(queries, v.Definition)
	}
	for _, g := range readYAML(t, "rules.yaml")["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			queries = append(queries, r.(map[string]any)["expr"].(string))
		}
	}
	names := map[string]bool{}
	metric := regexp.MustCompile(`\bzmq_[a-z0-9_]+\b`)
	for _, q := range queries {
		for _, m := range metric.FindAllString(q, -1) {
			names[m] = true
		}
	}
	if len(names) < 15 {
		t.Fatalf("only %d metric names found in the queries: %v", len(names), names)
	}
	declared := declaredMetrics(t)
	for name := range names {
		if !declared[name] {
			t.Errorf("%s is queried but no Go file of the module declares it", name)
		}
	}
}

// declaredMetrics collects the quoted "zmq_..." strings of the module's
// non-test Go files: the names given to prometheus.NewDesc and the *Opts.
func declaredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	root := filepath.Join("..", "..")
	quoted := regexp.MustCompile(`"(zmq_[a-z0-9_]+)"`)
	found := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			switch e.Name() {
			case ".git", "bin", "test", "examples", "hack", "charts", ".cluster", ".e2e-cluster":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range quoted.FindAllStringSubmatch(string(src), -1) {
			found[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !found["zmq_operator_topology_ready"] || !found["zmq_sidecar_peer_up"] || !found["zmq_device_dropped_messages_total"] {
		t.Fatalf("the walk of the module found too few metric names: %v", found)
	}
	return found
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

func readYAML(t *testing.T, file string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}
