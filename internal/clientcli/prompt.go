package clientcli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// defaultPromptTimeout bounds a whole `prompt` call, the dial included.
const defaultPromptTimeout = 150 * time.Millisecond

type promptOptions struct {
	socket  string
	profile string
	timeout time.Duration
}

// runPrompt prints a shell-prompt segment for a profile:
//
//	lw:default 17h      a valid token, 17 hours left
//	lw:default 3h !     valid, but renewal is failing (retrying, or rejected by LINE WORKS)
//	lw:default !        no valid token and renewal is failing
//	lw:default expired  the token expired (the daemon renews it at its next chance)
//	lw:default          the daemon runs, no token of the profile yet
//	lw:nope ?           the profile is not configured
//
// and nothing at all, with exit 0, when the daemon cannot be reached or does not answer
// within --timeout. A socket served by another user is not silence but an attack: then
// prompt prints the error to stderr and exits 3, like every other command. It asks only the daemon's status route, which reads memory: it never
// makes the daemon mint, read the keyring or reach LINE WORKS.
func runPrompt(ctx context.Context, env *Env, args []string) int {
	o := promptOptions{socket: env.Getenv(wire.EnvSocket), profile: env.Getenv(wire.EnvProfile), timeout: defaultPromptTimeout}
	fs := newFlags(env, "prompt", "prompt [--profile P] [--timeout D] [--socket PATH]",
		`PS1='$(lwtoken-helper prompt) \w\$ '   # see the README for bash, zsh and starship`)
	fs.StringVar(&o.socket, "socket", o.socket, "daemon socket `path` (env "+wire.EnvSocket+"; default per user)")
	fs.StringVar(&o.profile, "profile", o.profile, "profile `name` (env "+wire.EnvProfile+"; default: the daemon's default profile)")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "print nothing if the daemon has not answered within this `duration` (at most 2s)")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	if o.timeout <= 0 || o.timeout > 2*time.Second {
		errorf(env, "prompt: --timeout must be between 1ms and 2s")
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c := client.Client{SocketPath: o.socket, Timeout: o.timeout}
	st, err := c.Status(ctx)
	if errors.Is(err, client.ErrForeignDaemon) {
		return fail(env, err)
	}
	if err != nil {
		return ExitOK // no daemon, a hung one, or an old one: a prompt shows nothing
	}
	if seg := promptSegment(st, o.profile); seg != "" {
		fmt.Fprintln(env.Stdout, seg)
	}
	return ExitOK
}

// promptSegment renders the segment for profile ("" means the daemon's default).
func promptSegment(st *client.Status, profile string) string {
	if profile == "" {
		profile = st.Default
	}
	if profile == "" {
		return ""
	}
	known := false
	for _, p := range st.Profiles {
		known = known || p == profile
	}
	seg := "lw:" + profile
	if !known {
		return seg + " ?"
	}
	var best *client.TokenStatus
	failing := false
	for i := range st.Entries {
		e := &st.Entries[i]
		if e.Profile != profile {
			continue
		}
		failing = failing || e.Health == client.HealthRetrying || e.Health == client.HealthRejected
		if best == nil || better(e, best) {
			best = e
		}
	}
	switch {
	case best != nil && best.State == client.StateValid:
		seg += " " + shortDuration(time.Duration(best.TTLSeconds)*time.Second)
	case best != nil && best.State == client.StateExpired && !failing:
		seg += " expired"
	}
	if failing {
		seg += " !"
	}
	return seg
}

// better reports whether a is a better token to show than b: valid beats the rest, then
// more time left.
func better(a, b *client.TokenStatus) bool {
	if (a.State == client.StateValid) != (b.State == client.StateValid) {
		return a.State == client.StateValid
	}
	return a.TTLSeconds > b.TTLSeconds
}

// shortDuration renders d in its largest whole unit: 17h, 42m, 30s.
func shortDuration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", max(d/time.Second, 0))
}
