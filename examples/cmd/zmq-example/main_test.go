package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// --help, alone or after a role, prints the usage on stdout and exits 0
// without starting anything; version names the Go toolchain.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // a substring of stdout
		stderr string // a substring of stderr
	}{
		{args: []string{"--help"}, stdout: "usage: zmq-example ventilator|worker|sink"},
		{args: []string{"-h"}, stdout: "zmq-example version"},
		{args: []string{"version"}, stdout: "zmq-example dev (" + runtime.Version()},
		{args: []string{"--version"}, stdout: "zmq-example dev (" + runtime.Version()},
		{args: []string{"worker", "--help"}, stdout: "usage: zmq-example worker [flags]"},
		{args: []string{"publisher", "-h"}, stdout: "-topic"},
		{args: []string{"server", "--rate", "5", "--help"}, stdout: "-stats-addr"},
		{args: nil, code: 2, stderr: "usage: zmq-example"},
		{args: []string{"broker"}, code: 2, stderr: `unknown role "broker"`},
		{args: []string{"sink", "--bogus"}, code: 2, stderr: "flag provided but not defined: -bogus"},
		{args: []string{"sink", "extra"}, code: 2, stderr: "unexpected arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderr)
			}
		})
	}
}
