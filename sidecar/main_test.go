package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
)

// Every command and subcommand answers --help with its usage on stdout and
// exit status 0, before it reads any configuration; version names the Go
// toolchain.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // a substring of stdout; empty: stdout is empty
		stderr string // a substring of stderr; empty: stderr is empty
	}{
		{args: []string{"--help"}, stdout: "zmq-sidecar device forwarder|streamer|queue"},
		{args: []string{"-h"}, stdout: "zmq-sidecar agent"},
		{args: []string{"help"}, stdout: "zmq-sidecar ping"},
		{args: nil, code: 2, stderr: "usage:"},
		{args: []string{"bogus"}, code: 2, stderr: `unknown command "bogus"`},
		{args: []string{"version"}, stdout: "zmq-sidecar dev (" + runtime.Version()},
		{args: []string{"--version"}, stdout: "zmq-sidecar dev (" + runtime.Version()},
		{args: []string{"version", "--help"}, stdout: "usage: zmq-sidecar version"},
		{args: []string{"agent", "--help"}, stdout: "-probe-interval"},
		{args: []string{"agent", "-h"}, stdout: "usage: zmq-sidecar agent"},
		{args: []string{"device", "--help"}, stdout: "usage: zmq-sidecar device forwarder|streamer|queue"},
		{args: []string{"device", "-h"}, stdout: "-listen"},
		{args: []string{"device", "forwarder", "--help"}, stdout: "-config"},
		{args: []string{"device", "streamer", "--help"}, stdout: "-config"},
		{args: []string{"device", "queue", "-h"}, stdout: "-config"},
		{args: []string{"device", "queue", "--config", "/nonexistent", "--help"}, stdout: "-config"},
		{args: []string{"ping", "--help"}, stdout: "usage: zmq-sidecar ping [flags] tcp://host:port"},
		{args: []string{"device"}, code: 1, stderr: "missing device type"},
		{args: []string{"device", "router"}, code: 1, stderr: `unknown device type "router"`},
		{args: []string{"device", "forwarder", "--config", "/nonexistent"}, code: 1, stderr: "/nonexistent"},
		{args: []string{"device", "forwarder", "--bogus"}, code: 1, stderr: "flag provided but not defined: -bogus"},
		{args: []string{"agent", "extra"}, code: 1, stderr: "unexpected arguments"},
		{args: []string{"ping"}, code: 1, stderr: "usage: zmq-sidecar ping"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			check := func(name, got, want string) {
				if want == "" && got != "" || !strings.Contains(got, want) {
					t.Errorf("%s = %q, want it to contain %q", name, got, want)
				}
			}
			check("stdout", stdout.String(), tc.stdout)
			check("stderr", stderr.String(), tc.stderr)
		})
	}
}
