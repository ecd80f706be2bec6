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

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/cli"
)

// Exit codes (see internal/cli and the README).
const (
	ExitOK            = cli.ExitOK
	ExitError         = cli.ExitError
	ExitUsage         = cli.ExitUsage
	ExitNoDaemon      = cli.ExitNoDaemon
	ExitNotConfigured = cli.ExitNotConfigured
	ExitRejected      = cli.ExitRejected
	ExitUnavailable   = cli.ExitUnavailable
)

const prog = "lwtoken-helper"

// Env is what a command sees of its process: arguments, streams and environment.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

type command = cli.Command[*Env]

var commands = []command{
	{Name: "get", Summary: "print a valid access token", Run: runGet},
	{Name: "exec", Summary: "run a command with the token in its environment", Run: runExec},
	{Name: "status", Summary: "show the daemon's tokens and their health", Run: runStatus},
	{Name: "profiles", Summary: "list the profiles and the state of their tokens", Run: runProfiles},
	{Name: "prompt", Summary: "print a short segment for a shell prompt", Run: runPrompt},
	{Name: "revoke", Summary: "revoke the cached tokens at line works and drop them", Run: runRevoke},
	{Name: "completion", Summary: "print a bash, zsh or fish completion script", Run: runCompletion},
	{Name: "version", Summary: "print the version", Run: runVersion},
}

// Main runs the CLI with args (without the program name) and returns the exit code.
func Main(ctx context.Context, env *Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	p := cli.Program[*Env]{Name: prog, Commands: commands, Footer: footer}
	return p.Main(ctx, env, env.Stdout, env.Stderr, args)
}

func footer(w io.Writer) {
	fmt.Fprintf(w, "examples:\n  curl -H \"Authorization: Bearer $(%s get)\" https://www.worksapis.com/v1.0/users/me\n", prog)
	fmt.Fprintf(w, "  %s get --profile other --scope bot --min-ttl 30m\n\n", prog)
	fmt.Fprintf(w, "run `%s <command> -h` for a command's flags. exit codes: 0 ok, 1 error, 2 usage, 3 daemon not reachable,\n", prog)
	fmt.Fprintf(w, "4 not configured, 5 credentials rejected by line works, 6 line works unreachable and no valid token\n")
}

func errorf(env *Env, format string, args ...any) { cli.Errorf(env.Stderr, prog, format, args...) }
func hintf(env *Env, format string, args ...any)  { cli.Hintf(env.Stderr, prog, format, args...) }

// newFlags returns a FlagSet whose -h prints the usage line, flags and an example.
func newFlags(env *Env, name, usageLine, example string) *flag.FlagSet {
	return cli.NewFlags(env.Stdout, prog, name, usageLine, example)
}

// parse parses args; on failure it prints the error and returns the exit code to use.
func parse(env *Env, fs *flag.FlagSet, args []string) (int, bool) {
	return cli.Parse(env.Stderr, prog, fs, args)
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
