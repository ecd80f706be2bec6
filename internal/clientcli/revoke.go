package clientcli

import (
	"context"
	"fmt"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

type revokeOptions struct {
	socket  string
	profile string
}

func runRevoke(ctx context.Context, env *Env, args []string) int {
	o := revokeOptions{socket: env.Getenv(wire.EnvSocket), profile: env.Getenv(wire.EnvProfile)}
	fs := newFlags(env, "revoke", "revoke [--profile P] [--socket PATH]", "lwtoken-helper revoke --profile default")
	fs.StringVar(&o.socket, "socket", o.socket, "daemon socket `path` (env "+wire.EnvSocket+"; default per user)")
	fs.StringVar(&o.profile, "profile", o.profile, "profile `name` (env "+wire.EnvProfile+"; default: the daemon's default profile)")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	c := client.Client{SocketPath: o.socket}
	r, err := c.Revoke(ctx, o.profile)
	if err != nil {
		return fail(env, err)
	}
	switch {
	case r.Revoked == 0 && r.Skipped == 0:
		fmt.Fprintf(env.Stdout, "profile %q has no cached token: nothing to revoke\n", r.Profile)
	default:
		fmt.Fprintf(env.Stdout, "revoked %d token(s) of profile %q at line works", r.Revoked, r.Profile)
		if len(r.Fingerprints) > 0 {
			fmt.Fprintf(env.Stdout, " (fingerprints %s)", strings.Join(r.Fingerprints, ", "))
		}
		fmt.Fprintln(env.Stdout, "; the next get mints a new one")
		if r.Skipped > 0 {
			fmt.Fprintf(env.Stdout, "deleted %d stored token(s) of earlier credentials that cannot be revoked with the current ones\n", r.Skipped)
		}
	}
	return ExitOK
}
