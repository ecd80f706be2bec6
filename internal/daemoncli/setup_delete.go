package daemoncli

import (
	"github.com/lwtoken-helper/lwtoken-helper/internal/cli"

	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/daemon"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// runSetupDelete removes profile o.profile: it revokes the profile's tokens at LINE WORKS
// (through the running daemon, which holds them in memory too, else from the keyring),
// removes the profile from the config, has a running daemon reload (it forgets the
// profile's tokens and secrets), then deletes the profile's secrets, stored tokens and
// token index from the keyring. If the keyring cannot be reached, nothing is changed.
func runSetupDelete(ctx context.Context, env *Env, fs *flag.FlagSet, o setupOptions) int {
	named := false
	var extra []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "profile":
			named = true
		case "delete", "config", "socket":
		default:
			extra = append(extra, "--"+f.Name)
		}
	})
	if !named {
		errorf(env, "setup --delete: name the profile to delete with --profile")
		hintf(env, "e.g. `%s setup --delete --profile default`", prog)
		return ExitUsage
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		errorf(env, "setup --delete: %s cannot be combined with --delete", strings.Join(extra, ", "))
		hintf(env, "--delete takes only --profile, --config and --socket")
		return ExitUsage
	}
	cfg, err := config.LoadTrusted(o.config, os.Getuid())
	if errors.Is(err, config.ErrNotFound) {
		cfg, err = &config.Config{Profiles: map[string]*config.Profile{}}, nil
	}
	if err != nil {
		errorf(env, "setup --delete: %v", err)
		hintf(env, "%s", configFix(err, "fix the config file; it holds no secrets"))
		return ExitError
	}
	p := cfg.Profiles[o.profile]
	store := secretStoreFor(o.config)

	// The keyring first: when it cannot be reached, change nothing.
	kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, kerr := store.Get(kctx, keystore.ClientSecretKey(o.profile))
	cancel()
	if kerr != nil && !errors.Is(kerr, keystore.ErrNotFound) {
		errorf(env, "setup --delete: %v", kerr)
		if h := keystore.Hint(kerr); h != "" {
			hintf(env, "%s", h)
		}
		hintf(env, "nothing was changed")
		return ExitNotConfigured
	}

	c := client.Client{SocketPath: o.socket, Timeout: 45 * time.Second}
	if p != nil {
		revokeForDelete(ctx, env, &c, store, o.profile, o.config)
		next := &config.Config{DefaultProfile: cfg.DefaultProfile, Profiles: map[string]*config.Profile{}}
		for k, v := range cfg.Profiles {
			if k != o.profile {
				next.Profiles[k] = v
			}
		}
		if next.DefaultProfile == o.profile {
			next.DefaultProfile = ""
		}
		if err := config.Save(o.config, next); err != nil {
			errorf(env, "setup --delete: %v", err)
			hintf(env, "the keyring was not changed; fix the problem and run `%s setup --delete --profile %s` again", prog, o.profile)
			return ExitError
		}
	}
	// A running daemon forgets the profile before its items go, so it cannot write them back.
	reloaded := c.Reload(ctx)

	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	var scopes []string
	if p != nil {
		scopes = p.Scopes
	}
	n, err := daemon.DeleteProfile(dctx, store, o.profile, scopes)
	cancel()
	if err != nil {
		errorf(env, "setup --delete: deleting the keyring items of profile %q: %v", o.profile, err)
		if h := keystore.Hint(err); h != "" {
			hintf(env, "%s", h)
		}
		hintf(env, "then run `%s setup --delete --profile %s` again", prog, o.profile)
		return ExitNotConfigured
	}
	if p == nil && n == 0 {
		errorf(env, "setup --delete: profile %q is not configured and the keyring holds nothing of it", o.profile)
		if names := cfg.Names(); len(names) > 0 {
			hintf(env, "configured profiles: %s", strings.Join(names, ", "))
		}
		return ExitNotConfigured
	}
	if uc, ok := store.(*keystore.UserCredentials); ok {
		fmt.Fprintf(env.Stdout, "profile %q deleted: %d item(s) removed from %s", o.profile, n, uc.Describe())
	} else {
		fmt.Fprintf(env.Stdout, "profile %q deleted: %d item(s) removed from the keyring (service %q)", o.profile, n, keystore.Service)
	}
	if p != nil {
		fmt.Fprintf(env.Stdout, ", its settings removed from %s", o.config)
	}
	fmt.Fprintln(env.Stdout)
	switch {
	case reloaded == nil:
		fmt.Fprintln(env.Stdout, "the running daemon reloaded its configuration")
	case errors.Is(reloaded, client.ErrDaemonNotRunning):
	default:
		fmt.Fprintf(env.Stdout, "the running daemon did not reload (%v): send it SIGHUP\n", reloaded)
	}
	return ExitOK
}

// revokeForDelete revokes the profile's tokens at LINE WORKS before its secrets go: through
// the running daemon (which holds them in memory and knows the ones in the keyring), else
// straight from the keyring. A failure does not stop the deletion; it is reported, since
// the tokens then stay valid at LINE WORKS until they expire (at most 24 hours). cfgPath is
// the config file that still holds the profile.
func revokeForDelete(ctx context.Context, env *Env, c *client.Client, store keystore.Store, profile, cfgPath string) {
	r, err := c.Revoke(ctx, profile)
	n := 0
	switch {
	case err == nil:
		n = r.Revoked
	case errors.Is(err, client.ErrDaemonNotRunning), errors.Is(err, client.ErrNotConfigured):
		// No daemon, or one that does not know the profile: revoke what the keyring holds.
		rctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		n, err = daemon.RevokeStored(rctx, store, cfgPath, profile, nil)
		cancel()
	}
	if err != nil {
		warnf(env, "the tokens of profile %q were not all revoked at line works (%v): they stay valid there until they expire", profile, err)
	}
	if n > 0 {
		fmt.Fprintf(env.Stdout, "revoked %d token(s) of profile %q at line works\n", n, profile)
	}
}

func warnf(env *Env, format string, args ...any) {
	fmt.Fprintf(env.Stderr, "%s: warning: %s\n", prog, cli.OneLine(fmt.Sprintf(format, args...)))
}
