package main

import (
	"os/exec"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	line := "4242 (kube-apiserver (x)) S 77 4242 77 0 -1 4194560 1 0 0 0 250 130 0 0 20 0 9 0 100 1 1 1"
	comm, ppid, cpu, ok := parseStat(line)
	if !ok || comm != "kube-apiserver (x)" || ppid != 77 || cpu != 3800*time.Millisecond {
		t.Fatalf("parseStat = %q, %d, %s, %v; want kube-apiserver (x), 77, 3.8s, true", comm, ppid, cpu, ok)
	}
	if _, _, _, ok := parseStat("12 (short) S 1 2"); ok {
		t.Fatal("a truncated line parsed")
	}
}

func TestProcessCPUCountsChildren(t *testing.T) {
	// A child that spins for a while, then waits to be read.
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, err := processCPU()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m["scale.test"]; ok {
			t.Fatalf("the test process counted itself: %v", m)
		}
		if m["sleep"] > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child's CPU never showed: %v", m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
