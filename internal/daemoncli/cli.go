// Package daemoncli owns lwtoken-helperd's command line: run (the foreground daemon) and
// the admin verbs (setup, ...), one file each, each an options struct, its flags and a run
// function. This is the side that links the keyring and the service manager.
package daemoncli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Exit codes, shared with the thin client (see the README).
const (
	ExitOK            = 0
	ExitError         = 1
	ExitUsage         = 2
	ExitNoDaemon      = 3
	ExitNotConfigured = 4
	ExitRejected      = 5
	ExitUnavailable   = 6
)

const prog = "lwtoken-helperd"

// Environment twins of flags that service files set.
const (
	EnvLogLevel = "LWTOKEN_HELPERD_LOG_LEVEL"
)

// Version and Commit are set at build time with -ldflags -X.
var (
	Version = "dev"
	Commit  = ""
)

// Env is what a command sees of its process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// StdinFd is the descriptor behind Stdin when it is a file (for terminal detection); -1 otherwise.
	StdinFd int
}

type command struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"run", "run the daemon in the foreground (what the service manager starts)", runRun},
		{"setup", "store a profile's credentials in the keyring and its settings in the config", runSetup},
		{"install", "install the daemon as a per-user service (systemd --user, launchd)", runInstall},
		{"uninstall", "remove the service (--purge: also the credentials and config)", runUninstall},
		{"start", "start the installed service", runStart},
		{"stop", "stop the service", runStop},
		{"restart", "restart the service", runRestart},
		{"status", "show the service's state", runServiceStatus},
		{"doctor", "check every link from config and keyring to service and token endpoint", runDoctor},
		{"version", "print the version", runVersion},
	}
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
	fmt.Fprintf(w, "\nexample:\n  %s setup --profile default --client-id ID --service-account SA@example.com \\\n", prog)
	fmt.Fprintf(w, "      --scope \"bot user.read\" --private-key-file private.key --client-secret-file secret.txt\n")
	fmt.Fprintf(w, "  %s run\n\nrun `%s <command> -h` for a command's flags.\n", prog, prog)
}

func errorf(env *Env, format string, args ...any) {
	fmt.Fprintf(env.Stderr, "%s: error: %s\n", prog, oneLine(fmt.Sprintf(format, args...)))
}

func hintf(env *Env, format string, args ...any) {
	fmt.Fprintf(env.Stderr, "%s: hint: %s\n", prog, oneLine(fmt.Sprintf(format, args...)))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

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

func parse(env *Env, fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return ExitOK, false
		}
		errorf(env, "%s: %s", fs.Name(), flagValueRe.ReplaceAllString(err.Error(), "$1"))
		hintf(env, "run `%s %s -h` for its flags", prog, fs.Name())
		return ExitUsage, false
	}
	if fs.NArg() > 0 {
		// Not echoed: a secret pasted as an argument would land in the terminal or a log.
		errorf(env, "%s: unexpected argument (%d characters, not shown)", fs.Name(), len(fs.Arg(0)))
		hintf(env, "secrets are never taken as arguments; run `%s %s -h`", prog, fs.Name())
		return ExitUsage, false
	}
	return 0, true
}

// flagValueRe finds the value the flag package quotes in its errors ("invalid value "x" for
// flag -f", "invalid boolean value "x" for -f", "bad flag syntax: x"), which is not echoed.
var flagValueRe = regexp.MustCompile(`(invalid (?:boolean )?value|bad flag syntax):? (?:"(?:[^"\\]|\\.)*"|\S+)`)

func envOr(env *Env, name, def string) string {
	if v := env.Getenv(name); v != "" {
		return v
	}
	return def
}

func runVersion(_ context.Context, env *Env, _ []string) int {
	v := Version
	if Commit != "" {
		v += " (" + Commit + ")"
	}
	fmt.Fprintf(env.Stdout, "%s %s\n", prog, v)
	return ExitOK
}
