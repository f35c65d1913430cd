// Package argocd tests health.lua, the Argo CD health check of
// ZMQTopology, with gopher-lua: the Lua VM Argo CD runs health checks in.
package argocd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// health runs health.lua against obj the way Argo CD does: only the safe
// standard libraries open, obj a global table, the script's return value
// a table with status and message.
func health(t *testing.T, obj map[string]any) (status, message string) {
	t.Helper()
	script, err := os.ReadFile("health.lua")
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(string(script)); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %s, want a table", L.Get(-1).Type())
	}
	return lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
}

// toLua converts decoded JSON into Lua values, as Argo CD converts the
// unstructured object: objects and arrays become tables (arrays 1-based),
// numbers LNumber.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	panic(fmt.Sprintf("unexpected JSON value %T", v))
}

// fixture reads a status fixture, checks it is a valid ZMQTopology (field
// names as the API has them), and returns it as decoded JSON.
func fixture(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var typed zmqv1.ZMQTopology
	if err := yaml.UnmarshalStrict(raw, &typed); err != nil {
		t.Fatalf("%s is not a ZMQTopology: %v", path, err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(js, &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestHealth: one fixture per health state, and the message Argo CD shows.
func TestHealth(t *testing.T) {
	for _, tc := range []struct {
		file, status, message string
	}{
		{"healthy.yaml", "Healthy", "2 components and 1 links ready"},
		{"progressing-rollout.yaml", "Progressing", "ComponentNotReady: component worker: rolling out, 1/3 replicas updated"},
		{"progressing-unobserved.yaml", "Progressing", "waiting for the operator to observe generation 3"},
		{"progressing-nostatus.yaml", "Progressing", "waiting for the operator to observe generation 3"},
		{"degraded-invalidspec.yaml", "Degraded", `InvalidSpec: invalid spec (children left unchanged): spec.components[1].sockets[0].connect.socket`},
		{"degraded-applyfailed.yaml", "Degraded", "ApplyFailed: applying Deployment pipeline-worker"},
		{"degraded-linkdown.yaml", "Degraded", "LinkDown: link worker/tasks -> ventilator/tasks: worker-7c9f/pipeline-worker-7c9f-x2 -> ventilator-0: connection refused"},
		{"suspended.yaml", "Suspended", "spec.paused is true"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			status, message := health(t, fixture(t, filepath.Join("testdata", tc.file)))
			if status != tc.status || !strings.Contains(message, tc.message) {
				t.Errorf("%s: %q; want %s: %q", status, message, tc.status, tc.message)
			}
		})
	}
}

// TestHealthOfTheRealSample: the status snapshot of the pubsub sample
// captured from a real cluster (docs/pubsub.yaml, written by the e2e
// suite) is Healthy.
func TestHealthOfTheRealSample(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "pubsub.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the captured sample is missing: %v", err)
	}
	if status, message := health(t, fixture(t, path)); status != "Healthy" {
		t.Errorf("%s: %s: %q", path, status, message)
	}
}

// TestHealthTracksConditionGenerations: a Degraded condition left from an
// older generation does not make the new one Degraded, and a Ready=True of
// an older generation does not make it Healthy.
func TestHealthTracksConditionGenerations(t *testing.T) {
	obj := fixture(t, filepath.Join("testdata", "degraded-linkdown.yaml"))
	for _, c := range obj["status"].(map[string]any)["conditions"].([]any) {
		c.(map[string]any)["observedGeneration"] = float64(2)
	}
	if status, message := health(t, obj); status != "Progressing" || !strings.Contains(message, "Ready condition of generation 3") {
		t.Errorf("stale conditions: %s: %q", status, message)
	}
}
