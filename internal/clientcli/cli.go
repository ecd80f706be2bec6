// Package clientcli owns the thin client's command line (lwtoken-helper): one file per
// subcommand, each an options struct, its flags and a run function. It links the client
// package and nothing of the daemon side (no keyring, no service manager).
package clientcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/client"
)

// Exit codes, documented in the README.
const (
	ExitOK            = 0
	ExitError         = 1 // anything else
	ExitUsage         = 2
	ExitNoDaemon      = 3 // daemon not reachable
	ExitNotConfigured = 4 // profile or secrets not configured
	ExitRejected      = 5 // credentials rejected by LINE WORKS
	ExitUnavailable   = 6 // LINE WORKS unreachable and no valid token
)

const prog = "lwtoken-helper"

// Version and Commit are set at build time with -ldflags -X.
var (
	Version = "dev"
	Commit  = ""
)

// Env is what a command sees of its process: arguments, streams and environment.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

type command struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) int
}

var commands = []command{
	{"get", "print a valid access token", runGet},
	{"exec", "run a command with the token in its environment", runExec},
	{"status", "show the daemon's tokens and their health", runStatus},
	{"profiles", "list the profiles and the state of their tokens", runProfiles},
	{"prompt", "print a short segment for a shell prompt", runPrompt},
	{"revoke", "revoke the cached tokens at line works and drop them", runRevoke},
	{"completion", "print a bash, zsh or fish completion script", runCompletion},
	{"version", "print the version", runVersion},
}

// Main runs the CLI with args (without the program name) and returns the exit code.
func Main(ctx context.Context, env *Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(env.Stdout)
		return ExitOK
	case "-version", "--version":
		return runVersion(ctx, env, nil)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	errorf(env, "unknown command %q", args[0])
	hintf(env, "run `%s help` for the list of commands", prog)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\n", prog)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nexamples:\n  curl -H \"Authorization: Bearer $(%s get)\" https://www.worksapis.com/v1.0/users/me\n", prog)
	fmt.Fprintf(w, "  %s get --profile other --scope bot --min-ttl 30m\n\n", prog)
	fmt.Fprintf(w, "run `%s <command> -h` for a command's flags. exit codes: 0 ok, 1 error, 2 usage, 3 daemon not reachable,\n", prog)
	fmt.Fprintf(w, "4 not configured, 5 credentials rejected by line works, 6 line works unreachable and no valid token\n")
}

func errorf(env *Env, format string, args ...any) {
	fmt.Fprintf(env.Stderr, "%s: error: %s\n", prog, oneLine(fmt.Sprintf(format, args...)))
}

func hintf(env *Env, format string, args ...any) {
	fmt.Fprintf(env.Stderr, "%s: hint: %s\n", prog, oneLine(fmt.Sprintf(format, args...)))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// newFlags returns a FlagSet that reports errors through the CLI's own lines.
func newFlags(env *Env, name, usageLine, example string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "usage: %s %s\n\n", prog, usageLine)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if example != "" {
			fmt.Fprintf(env.Stdout, "\nexample:\n  %s\n", example)
		}
	}
	return fs
}

// parse parses args; on failure it prints the error and returns the exit code to use.
func parse(env *Env, fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // the FlagSet has printed its usage
			return ExitOK, false
		}
		errorf(env, "%s: %v", fs.Name(), err)
		hintf(env, "run `%s %s -h` for its flags", prog, fs.Name())
		return ExitUsage, false
	}
	if fs.NArg() > 0 {
		errorf(env, "%s: unexpected argument %q", fs.Name(), fs.Arg(0))
		hintf(env, "run `%s %s -h` for its flags", prog, fs.Name())
		return ExitUsage, false
	}
	return 0, true
}

// fail prints a client error with its hint and returns its exit code.
func fail(env *Env, err error) int {
	var ce *client.Error
	hint := ""
	if errors.As(err, &ce) {
		hint = ce.Hint
	}
	errorf(env, "%s", err.Error())
	if hint != "" {
		hintf(env, "%s", hint)
	}
	return exitCode(err)
}

func exitCode(err error) int {
	switch {
	case errors.Is(err, client.ErrDaemonNotRunning):
		return ExitNoDaemon
	case errors.Is(err, client.ErrNotConfigured):
		return ExitNotConfigured
	case errors.Is(err, client.ErrRejected):
		return ExitRejected
	case errors.Is(err, client.ErrUnavailable):
		return ExitUnavailable
	case errors.Is(err, client.ErrBadRequest):
		return ExitUsage
	}
	return ExitError
}
