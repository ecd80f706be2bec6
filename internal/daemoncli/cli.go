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
	"strconv"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/internal/cli"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
)

// Exit codes, shared with the thin client (see internal/cli and the README).
const (
	ExitOK            = cli.ExitOK
	ExitError         = cli.ExitError
	ExitUsage         = cli.ExitUsage
	ExitNoDaemon      = cli.ExitNoDaemon
	ExitNotConfigured = cli.ExitNotConfigured
	ExitRejected      = cli.ExitRejected
	ExitUnavailable   = cli.ExitUnavailable
	ExitDaemonUsage   = cli.ExitDaemonUsage
	ExitDaemonConfig  = cli.ExitDaemonConfig
)

// NoRestartExitCodes are the exit codes of `lwtoken-helperd run` after which a service
// manager must not restart it: its own fatal usage and configuration errors. Every other
// failure, a Go panic or SIGQUIT/SIGABRT (exit 2) and a kill included, is worth a restart.
func NoRestartExitCodes() []int { return []int{ExitDaemonUsage, ExitDaemonConfig} }

// RestartPreventExitStatus is the value of systemd's RestartPreventExitStatus= for every
// unit that runs the daemon: NoRestartExitCodes, space-separated ("64 78").
func RestartPreventExitStatus() string {
	var b strings.Builder
	for i, c := range NoRestartExitCodes() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(c))
	}
	return b.String()
}

const prog = "lwtoken-helperd"

// Environment twins of flags that service files set.
const (
	EnvLogLevel = "LWTOKEN_HELPERD_LOG_LEVEL"
)

// Env is what a command sees of its process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// StdinFd is the descriptor behind Stdin when it is a file (for terminal detection); -1 otherwise.
	StdinFd int
}

type command = cli.Command[*Env]

var commands []command

func init() {
	commands = []command{
		{Name: "run", Summary: "run the daemon in the foreground (what the service manager starts)", Run: runRun},
		{Name: "setup", Summary: "store a profile's credentials in the keyring and its settings in the config", Run: runSetup},
		{Name: "install", Summary: "install the daemon as a per-user service (systemd --user, launchd)", Run: runInstall},
		{Name: "uninstall", Summary: "remove the service (--purge: also the credentials and config)", Run: runUninstall},
		{Name: "start", Summary: "start the installed service", Run: runStart},
		{Name: "stop", Summary: "stop the service", Run: runStop},
		{Name: "restart", Summary: "restart the service", Run: runRestart},
		{Name: "status", Summary: "show the service's state", Run: runServiceStatus},
		{Name: "doctor", Summary: "check every link from config and keyring to service and token endpoint", Run: runDoctor},
		{Name: "version", Summary: "print the version", Run: runVersion},
	}
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
	fmt.Fprintf(w, "example:\n  %s setup --profile default --client-id ID --service-account SA@example.com \\\n", prog)
	fmt.Fprintf(w, "      --scope \"bot user.read\" --private-key-file private.key --client-secret-file secret.txt\n")
	fmt.Fprintf(w, "  %s run\n\nrun `%s <command> -h` for a command's flags.\n", prog, prog)
}

func errorf(env *Env, format string, args ...any) { cli.Errorf(env.Stderr, prog, format, args...) }
func hintf(env *Env, format string, args ...any)  { cli.Hintf(env.Stderr, prog, format, args...) }

// configFix is the hint for an error of config.LoadTrusted: the fix an *config.UnsafeError
// names, else def.
func configFix(err error, def string) string {
	var unsafe *config.UnsafeError
	if errors.As(err, &unsafe) && unsafe.Fix != "" {
		return unsafe.Fix
	}
	return def
}

func newFlags(env *Env, name, usageLine, example string) *flag.FlagSet {
	return cli.NewFlags(env.Stdout, prog, name, usageLine, example)
}

// parse parses args; on failure it prints the error (never echoing a value) and returns
// the exit code to use.
func parse(env *Env, fs *flag.FlagSet, args []string) (int, bool) {
	return cli.Parse(env.Stderr, prog, fs, args)
}

func envOr(env *Env, name, def string) string {
	if v := env.Getenv(name); v != "" {
		return v
	}
	return def
}

func runVersion(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "version", "version", prog+" version")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	fmt.Fprintf(env.Stdout, "%s %s\n", prog, cli.VersionString(cli.Version, cli.Commit))
	return ExitOK
}
