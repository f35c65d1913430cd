package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
)

// parseCommandLine parses the manager's flags from args. --help (or -h)
// prints the usage and every flag on stdout; --version (or a `version`
// argument) prints the version stamped at build time and the Go version.
// Both report exit: the caller stops there with status 0. Any other parse
// error is returned without the flag package's own output.
func parseCommandLine(fs *flag.FlagSet, args []string, stdout io.Writer) (exit bool, err error) {
	showVersion := fs.Bool("version", false, "Print the version and the Go version, then exit.")
	fs.Init("manager", flag.ContinueOnError) // flag.CommandLine would exit by itself
	fs.SetOutput(io.Discard)
	err = fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stdout, "manager %s: the zmq-operator controller manager\n\nusage: manager [flags]\n       manager version\n\nflags:\n", version)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return true, nil
	case err != nil:
		return false, fmt.Errorf("%w (see manager --help)", err)
	case *showVersion || fs.NArg() == 1 && fs.Arg(0) == "version":
		fmt.Fprintf(stdout, "manager %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return true, nil
	case fs.NArg() > 0:
		return false, fmt.Errorf("unexpected arguments %q (see manager --help)", fs.Args())
	}
	return false, nil
}
