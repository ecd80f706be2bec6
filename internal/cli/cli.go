// Package cli owns what the two command lines share: exit codes, the "prog: error:" and
// "prog: hint:" lines, flag sets that report through them, command dispatch and the
// version string. It imports only the standard library, so the thin client can link it.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// Exit codes of both programs, documented in the README.
const (
	ExitOK               = 0
	ExitError            = 1 // anything else
	ExitUsage            = 2 // bad flag or argument, or a request the daemon refused as malformed
	ExitNoDaemon         = 3 // daemon not reachable
	ExitNotConfigured    = 4 // profile or secrets not configured
	ExitRejected         = 5 // credentials rejected by LINE WORKS
	ExitUnavailable      = 6 // LINE WORKS unreachable and no valid token
	ExitNoServiceManager = 7 // no per-user service manager for install/start/...

	// Fatal errors of `lwtoken-helperd run` that restarting cannot fix, with codes of
	// their own (BSD sysexits.h) so that a service manager can tell them from a crash: a
	// Go panic and a SIGQUIT or SIGABRT dump exit with 2, which must be restarted.
	ExitDaemonUsage  = 64 // EX_USAGE: run got a bad flag or argument
	ExitDaemonConfig = 78 // EX_CONFIG: the config file is invalid or unsafe, or the socket directory is refused
)

// Version and Commit of both programs, set at build time with
// -ldflags "-X github.com/lwtoken-helper/lwtoken-helper/internal/cli.Version=v1.0.0 -X ...Commit=abc".
// Left empty, VersionString reads them from the build info.
var (
	Version = "dev"
	Commit  = ""
)

// Errorf prints "prog: error: MSG" as one line.
func Errorf(w io.Writer, prog, format string, args ...any) {
	fmt.Fprintf(w, "%s: error: %s\n", prog, OneLine(fmt.Sprintf(format, args...)))
}

// Hintf prints "prog: hint: MSG" as one line.
func Hintf(w io.Writer, prog, format string, args ...any) {
	fmt.Fprintf(w, "%s: hint: %s\n", prog, OneLine(fmt.Sprintf(format, args...)))
}

// OneLine folds all white space, newlines included, into single spaces.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// NewFlags returns a FlagSet whose -h prints usageLine, the flags and an example to stdout,
// and whose errors are left to Parse.
func NewFlags(stdout io.Writer, prog, name, usageLine, example string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage: %s %s\n\n", prog, usageLine)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if example != "" {
			fmt.Fprintf(stdout, "\nexample:\n  %s\n", example)
		}
	}
	return fs
}

// Parse parses args. On -h (usage already printed by the FlagSet) it returns ExitOK,false;
// on an error it prints it with a hint and returns ExitUsage,false. Neither a stray
// argument nor a bad flag value is echoed: a secret pasted there must not land in a
// terminal's scrollback or a CI log.
func Parse(stderr io.Writer, prog string, fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, false
		}
		Errorf(stderr, prog, "%s: %s", fs.Name(), withoutFlagValue(err.Error()))
		Hintf(stderr, prog, "run `%s %s -h` for its flags", prog, fs.Name())
		return ExitUsage, false
	}
	if fs.NArg() > 0 {
		Errorf(stderr, prog, "%s: unexpected argument (%d characters, not shown)", fs.Name(), len(fs.Arg(0)))
		Hintf(stderr, prog, "secrets are never taken as arguments; run `%s %s -h`", prog, fs.Name())
		return ExitUsage, false
	}
	return ExitOK, true
}

// withoutFlagValue drops the value the flag package quotes in its errors: `invalid value
// "x" for flag -f: ...`, `invalid boolean value "x" for -f: ...`, `bad flag syntax: x`.
// Written by hand rather than with regexp, which would cost every start of the thin client
// its package initialisation.
func withoutFlagValue(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return "bad flag syntax (" + fmt.Sprint(len(rest)) + " characters, not shown)"
	}
	for _, prefix := range []string{"invalid value ", "invalid boolean value "} {
		i := strings.Index(msg, prefix)
		if i < 0 || !strings.HasPrefix(msg[i+len(prefix):], `"`) {
			continue
		}
		start := i + len(prefix)
		// The value is a Go-quoted string: find its closing quote, skipping escapes.
		for j := start + 1; j < len(msg); j++ {
			switch msg[j] {
			case '\\':
				j++
			case '"':
				return msg[:i] + strings.TrimSuffix(prefix, " ") + msg[j+1:]
			}
		}
		return msg[:i] + strings.TrimSuffix(prefix, " ")
	}
	return msg
}

// Command is one subcommand of a program whose commands take an environment of type E.
type Command[E any] struct {
	Name, Summary string
	Run           func(ctx context.Context, env E, args []string) int
}

// Program is a command line: its name, its commands, and the text after the command list.
type Program[E any] struct {
	Name     string
	Commands []Command[E]
	Footer   func(w io.Writer) // examples and notes printed after the command list
}

// Main dispatches args (without the program name) to a command. No args prints the usage
// to stderr (ExitUsage); help, -h and --help print it to stdout; --version runs "version".
func (p *Program[E]) Main(ctx context.Context, env E, stdout, stderr io.Writer, args []string) int {
	if len(args) == 0 {
		p.Usage(stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		p.Usage(stdout)
		return ExitOK
	case "-version", "--version":
		args = []string{"version"}
	}
	for _, c := range p.Commands {
		if c.Name == args[0] {
			return c.Run(ctx, env, args[1:])
		}
	}
	if commandLike(args[0]) {
		Errorf(stderr, p.Name, "unknown command %q", args[0])
	} else { // it may be a pasted secret: not echoed
		Errorf(stderr, p.Name, "unknown command (%d characters, not shown)", len(args[0]))
	}
	Hintf(stderr, p.Name, "run `%s help` for the list of commands", p.Name)
	return ExitUsage
}

// commandLike reports whether s could be a mistyped command name (echoed back): a
// lowercase word of at most 20 letters and dashes. Anything else is not echoed.
func commandLike(s string) bool {
	if s == "" || len(s) > 20 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '-' {
			return false
		}
	}
	return true
}

// Usage prints the command list and the footer.
func (p *Program[E]) Usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\n", p.Name)
	for _, c := range p.Commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	if p.Footer != nil {
		fmt.Fprintln(w)
		p.Footer(w)
	}
}

// VersionString is "VERSION (COMMIT) GOVERSION OS/ARCH". version and commit come from
// -ldflags -X when set; else from the build info Go records: the module version for
// `go install ...@vX.Y.Z`, and the VCS revision (12 digits, "-dirty" for a modified tree).
func VersionString(version, commit string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		if commit == "" {
			commit = vcsCommit(bi.Settings)
		}
	}
	if commit != "" {
		version += " (" + commit + ")"
	}
	return version + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func vcsCommit(settings []debug.BuildSetting) string {
	var rev, modified string
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && modified == "true" {
		rev += "-dirty"
	}
	return rev
}
