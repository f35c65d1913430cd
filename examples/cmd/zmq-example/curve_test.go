package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// curveFiles lays out a component's key pair as the operator mounts it and
// returns the secret key file and the public key.
func curveFiles(t *testing.T, dir, component string) (secretFile string, pub zmtp.CurvePublicKey) {
	t.Helper()
	pub, sec, err := zmtp.GenerateCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	secretFile = filepath.Join(dir, component+".secret-key")
	if err := os.WriteFile(secretFile, []byte(sec.Z85()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return secretFile, pub
}

func writeKey(t *testing.T, path string, k zmtp.CurvePublicKey) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(k.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPipelineRolesCurve runs the pipeline roles with CURVE configurations
// shaped like the operator's: every task reaches the sink through the
// declared workers, and a worker with a self-made key gets no task.
func TestPipelineRolesCurve(t *testing.T) {
	dir := t.TempDir()
	ventSec, ventPub := curveFiles(t, dir, "ventilator")
	workerSec, workerPub := curveFiles(t, dir, "worker")
	sinkSec, sinkPub := curveFiles(t, dir, "sink")
	outsiderSec, _ := curveFiles(t, dir, "outsider")
	writeKey(t, filepath.Join(dir, "servers", "ventilator"), ventPub)
	writeKey(t, filepath.Join(dir, "servers", "sink"), sinkPub)
	writeKey(t, filepath.Join(dir, "allowed", "tasks", "worker"), workerPub)
	writeKey(t, filepath.Join(dir, "allowed", "results", "worker"), workerPub)
	server := func(sec, socket string) *zmqconfig.Security {
		return &zmqconfig.Security{Mechanism: "CURVE", Server: true, SecretKeyFile: sec, AllowedClientKeysDir: filepath.Join(dir, "allowed", socket)}
	}
	client := func(sec, srv string) *zmqconfig.Security {
		return &zmqconfig.Security{Mechanism: "CURVE", SecretKeyFile: sec, ServerPublicKeyFile: filepath.Join(dir, "servers", srv)}
	}

	tasks, results := freePort(t), freePort(t)
	tcp := func(p int32) []string { return []string{fmt.Sprintf("tcp://127.0.0.1:%d", p)} }
	sink := start(t, "sink", "sink-0", writeConfig(t, "sink",
		zmqconfig.Socket{Name: "results", Type: "PULL", Bind: true, Port: results, Endpoints: tcp(results), Security: server(sinkSec, "results")}), 0)
	worker := func(sec string) string {
		return writeConfig(t, "worker",
			zmqconfig.Socket{Name: "tasks", Type: "PULL", Endpoints: tcp(tasks), Security: client(sec, "ventilator")},
			zmqconfig.Socket{Name: "results", Type: "PUSH", Endpoints: tcp(results), Security: client(sec, "sink")})
	}
	start(t, "worker", "worker-a", worker(workerSec), 0)
	start(t, "worker", "worker-b", worker(workerSec), 0)
	start(t, "worker", "worker-x", worker(outsiderSec), 0)
	vent := start(t, "ventilator", "vent-0", writeConfig(t, "ventilator",
		zmqconfig.Socket{Name: "tasks", Type: "PUSH", Bind: true, Port: tasks, Endpoints: tcp(tasks), Security: server(ventSec, "tasks")}), 500)

	waitFor(t, "300 tasks", func() bool { n, _ := stat(vent, "sent").(int); return n >= 300 })
	vent.paused.Store(true)
	time.Sleep(100 * time.Millisecond)
	sent := stat(vent, "sent").(int)
	waitFor(t, "every task at the sink", func() bool { n, _ := stat(sink, "received").(int); return n == sent })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	byWorker := sink.stats["byWorker"].(map[string]int)
	if byWorker["worker-a"] == 0 || byWorker["worker-b"] == 0 || byWorker["worker-x"] != 0 {
		t.Errorf("by worker %v: want both declared workers and not the outsider", byWorker)
	}
}
