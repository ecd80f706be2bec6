package clientcli

import (
	"context"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

type getOptions struct {
	socket  string
	profile string
	scope   string
	minTTL  time.Duration
	format  string
}

func runGet(ctx context.Context, env *Env, args []string) int {
	o := getOptions{socket: env.Getenv(wire.EnvSocket), profile: env.Getenv(wire.EnvProfile)}
	fs := newFlags(env, "get", "get [--profile P] [--scope S] [--min-ttl D] [--format token|header|json|env] [--socket PATH]",
		`curl -H "Authorization: Bearer $(lwtoken-helper get)" https://www.worksapis.com/v1.0/users/me`+
			"\n  lwtoken-helper get --format header | curl -H @- https://www.worksapis.com/v1.0/users/me"+
			"\n  eval \"$(lwtoken-helper get --format env)\"; echo \"$LWTOKEN_HELPER_TOKEN_EXPIRES_AT\"")
	fs.StringVar(&o.socket, "socket", o.socket, "daemon socket `path` (env "+wire.EnvSocket+"; default per user)")
	fs.StringVar(&o.profile, "profile", o.profile, "profile `name` (env "+wire.EnvProfile+"; default: the daemon's default profile)")
	fs.StringVar(&o.scope, "scope", "", "space- or comma-separated `scopes`, a subset of the profile's (default: all of them)")
	fs.DurationVar(&o.minTTL, "min-ttl", 0, "the token must stay valid at least this long (`duration`, e.g. 30m); renewed first if not")
	fs.StringVar(&o.format, "format", formatToken, "output `format`: token, header (Authorization: Bearer ...), json, or env (export lines for eval)")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	if o.minTTL < 0 {
		errorf(env, "get: --min-ttl must not be negative")
		return ExitUsage
	}
	if !validFormat(o.format) {
		errorf(env, "get: unknown --format %q", o.format)
		hintf(env, "use one of: %s", strings.Join(formats, ", "))
		return ExitUsage
	}
	c := client.Client{SocketPath: o.socket}
	t, err := c.Token(ctx, client.TokenRequest{Profile: o.profile, Scope: o.scope, MinTTL: o.minTTL})
	if err != nil {
		return fail(env, err)
	}
	if err := writeToken(env.Stdout, o.format, t); err != nil {
		errorf(env, "get: write: %v", err)
		return ExitError
	}
	return ExitOK
}
