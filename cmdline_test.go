package main

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestCommandLine runs the real main (this test binary, re-executed) with
// --help and version: both print on stdout and exit 0 before the manager
// reaches for a kubeconfig.
func TestCommandLine(t *testing.T) {
	if args, ok := os.LookupEnv("MANAGER_TEST_ARGS"); ok {
		os.Args = append([]string{"manager"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	for _, tc := range []struct {
		args   string
		code   int
		stdout []string // substrings of stdout
		stderr string   // a substring of stderr
	}{
		{args: "--help", stdout: []string{"usage: manager [flags]", "-sidecar-image", "-zap-log-level", "-version"}},
		{args: "-h", stdout: []string{"-webhook-cert-mode"}},
		{args: "--version", stdout: []string{"manager dev (" + runtime.Version()}},
		{args: "version", stdout: []string{"manager dev (" + runtime.Version()}},
		{args: "--bogus", code: 1, stderr: "flag provided but not defined: -bogus (see manager --help)"},
		{args: "extra", code: 1, stderr: `unexpected arguments ["extra"]`},
		{args: "--help", stdout: []string{"-link-poll-period", "-link-poll-workers"}},
		{args: "--link-poll-period=-1s", code: 1, stderr: "--link-poll-period: -1s is negative"},
		{args: "--link-poll-workers=0", code: 1, stderr: "--link-poll-workers: 0, want at least 1"},
		{args: "--max-concurrent-reconciles=0", code: 1, stderr: "--max-concurrent-reconciles: 0 is not a positive count"},
		{args: "--kube-api-qps=-1", code: 1, stderr: "--kube-api-qps: -1 is not a positive rate"},
		{args: "--kube-api-burst=0", code: 1, stderr: "--kube-api-burst: 0 is not a positive count"},
		{args: "--help", stdout: []string{"-child-event-batch", "-kube-api-compression"}},
		{args: "--child-event-batch=-1s", code: 1, stderr: "--child-event-batch: -1s is negative (0 reconciles at each change)"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCommandLine$")
			cmd.Env = append(os.Environ(), "MANAGER_TEST_ARGS="+tc.args, "KUBECONFIG=/nonexistent")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if err != nil {
				exitErr, ok := err.(*exec.ExitError)
				if !ok {
					t.Fatal(err)
				}
				code = exitErr.ExitCode()
			}
			if code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout %q does not contain %q", stdout.String(), want)
				}
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderr)
			}
		})
	}
}
