package clientcli

import (
	"context"
	"errors"
	"flag"
	iofs "io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// Exit codes of exec when the command cannot be run (as in env(1) and POSIX shells). Once
// the command runs, exec's exit status is the command's own.
const (
	ExitCannotExec = 126 // the command was found but could not be executed
	ExitNotFound   = 127 // the command was not found
)

type execOptions struct {
	socket  string
	profile string
	scope   string
	minTTL  time.Duration
}

// execCommand runs the command: on Unix it replaces this process (syscall.Exec) and
// returns only on failure; elsewhere it runs a child and returns its exit status.
// Tests replace it.
var execCommand = execReplace

func runExec(ctx context.Context, env *Env, args []string) int {
	o := execOptions{socket: env.Getenv(wire.EnvSocket), profile: env.Getenv(wire.EnvProfile)}
	fs := newFlags(env, "exec", "exec [--profile P] [--scope S] [--min-ttl D] [--socket PATH] [--] COMMAND [ARGS...]",
		"lwtoken-helper exec --profile gov -- python3 bot.py\n"+
			`  lwtoken-helper exec -- sh -c 'curl -H "Authorization: Bearer $LWTOKEN_HELPER_TOKEN" https://www.worksapis.com/v1.0/users/me'`+"\n\n"+
			"COMMAND runs with "+EnvToken+", "+EnvTokenExpiresAt+" (RFC 3339) and "+wire.EnvProfile+" in its environment,\n"+
			"in place of lwtoken-helper on Linux and macOS (same process: signals reach it directly, its exit status is exec's).\n"+
			"exit codes before COMMAND runs: those of get, 126 COMMAND not executable, 127 COMMAND not found")
	fs.StringVar(&o.socket, "socket", o.socket, "daemon socket `path` (env "+wire.EnvSocket+"; default per user)")
	fs.StringVar(&o.profile, "profile", o.profile, "profile `name` (env "+wire.EnvProfile+"; default: the daemon's default profile)")
	fs.StringVar(&o.scope, "scope", "", "space- or comma-separated `scopes`, a subset of the profile's (default: all of them)")
	fs.DurationVar(&o.minTTL, "min-ttl", 0, "the token must stay valid at least this long (`duration`, e.g. 2h); renewed first if not")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		errorf(env, "exec: %v", err)
		hintf(env, "run `%s exec -h` for its flags", prog)
		return ExitUsage
	}
	argv := fs.Args()
	if len(argv) == 0 || argv[0] == "" {
		errorf(env, "exec: no command given")
		hintf(env, "usage: %s exec [flags] -- COMMAND [ARGS...]", prog)
		return ExitUsage
	}
	if o.minTTL < 0 {
		errorf(env, "exec: --min-ttl must not be negative")
		return ExitUsage
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, iofs.ErrNotExist) {
			errorf(env, "exec: %s: command not found", argv[0])
			hintf(env, "check the name and $PATH; the command runs only once a token is at hand")
			return ExitNotFound
		}
		errorf(env, "exec: %s: %v", argv[0], lookPathReason(err))
		return ExitCannotExec
	}
	c := client.Client{SocketPath: o.socket}
	t, err := c.Token(ctx, client.TokenRequest{Profile: o.profile, Scope: o.scope, MinTTL: o.minTTL})
	if err != nil {
		return fail(env, err)
	}
	return execCommand(env, path, argv, childEnv(os.Environ(), t))
}

// childEnv returns environ without any earlier token variables, plus the token's.
func childEnv(environ []string, t *client.Token) []string {
	out := make([]string, 0, len(environ)+3)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if k == EnvToken || k == EnvTokenExpiresAt || k == wire.EnvProfile {
			continue
		}
		out = append(out, kv)
	}
	return append(out, EnvToken+"="+t.AccessToken, EnvTokenExpiresAt+"="+t.ExpiresAt.UTC().Format(time.RFC3339),
		wire.EnvProfile+"="+t.Profile)
}

func lookPathReason(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
