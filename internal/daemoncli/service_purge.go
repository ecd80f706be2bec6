package daemoncli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/daemon"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// purgePlan is what `uninstall --purge` deletes: every configured profile's keyring items
// (private key, client secret, stored tokens and their index) and the config file.
type purgePlan struct {
	cfgPath   string
	cfgExists bool
	cfg       *config.Config
}

// planPurge reads what to delete and asks for confirmation. It returns nil and an exit code
// when the purge must not go on.
func planPurge(env *Env, o uninstallOptions) (*purgePlan, int) {
	p := &purgePlan{cfgPath: o.config}
	if p.cfgPath == "" {
		var err error
		if p.cfgPath, err = config.Path(); err != nil {
			errorf(env, "uninstall: %v", err)
			return nil, ExitError
		}
	}
	cfg, err := config.LoadTrusted(p.cfgPath, os.Getuid())
	switch {
	case errors.Is(err, config.ErrNotFound):
		cfg = &config.Config{Profiles: map[string]*config.Profile{}}
	case err != nil:
		errorf(env, "uninstall: --purge needs the profile names from the config: %v", err)
		hintf(env, "fix the config file, or delete the keyring items by hand (service %q, e.g. `secret-tool clear service %s`)", keystore.Service, keystore.Service)
		return nil, ExitError
	default:
		p.cfgExists = true
	}
	p.cfg = cfg
	if !p.cfgExists {
		return p, ExitOK // nothing to ask about; run says so
	}
	what := fmt.Sprintf("revoke the tokens and delete the keyring secrets of %s, and remove the config file %s", profileList(cfg.Names()), p.cfgPath)
	if code, ok := confirmPurge(env, what, o.yes); !ok {
		return nil, code
	}
	return p, ExitOK
}

// confirmPurge asks before --purge does what: on a terminal a [y/N] question, elsewhere
// --yes is required (exit 2). It returns the exit code when the purge must not go on.
func confirmPurge(env *Env, what string, yes bool) (int, bool) {
	if yes {
		return ExitOK, true
	}
	if env.StdinFd < 0 || !term.IsTerminal(env.StdinFd) {
		errorf(env, "uninstall: --purge would %s; it needs a confirmation", what)
		hintf(env, "run it in a terminal to be asked, or add --yes")
		return ExitUsage, false
	}
	fmt.Fprintf(env.Stderr, "this will %s; they cannot be recovered. continue? [y/N] ", what)
	line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return ExitOK, true
	}
	errorf(env, "uninstall: not confirmed: nothing was changed")
	return ExitError, false
}

func profileList(names []string) string {
	switch len(names) {
	case 0:
		return "no profile"
	case 1:
		return "profile " + names[0]
	}
	return "profiles " + strings.Join(names, ", ")
}

// run revokes each profile's tokens at LINE WORKS (as `setup --delete` does; a failure is a
// warning), deletes its keyring items, then removes the config file. The config stays when
// a keyring item could not be deleted, so that a rerun finds the profiles.
func (p *purgePlan) run(ctx context.Context, env *Env, socket string) int {
	if !p.cfgExists {
		fmt.Fprintf(env.Stdout, "no config file at %s: no profile to purge\n", p.cfgPath)
		return ExitOK
	}
	store := secretStoreFor(p.cfgPath)
	c := client.Client{SocketPath: socket, Timeout: 45 * time.Second}
	deleted := 0
	for _, name := range p.cfg.Names() {
		prof := p.cfg.Profiles[name]
		revokeForDelete(ctx, env, &c, store, name, p.cfgPath)
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := daemon.DeleteProfile(dctx, store, name, prof.Scopes)
		cancel()
		deleted += n
		if err != nil {
			errorf(env, "uninstall: --purge: profile %s: %v", name, err)
			if h := keystore.Hint(err); h != "" {
				hintf(env, "%s", h)
			}
			hintf(env, "%d keyring items were deleted before this; the config file was kept so that a rerun finds the profiles", deleted)
			return ExitError
		}
	}
	if uc, ok := store.(*keystore.UserCredentials); ok {
		fmt.Fprintf(env.Stdout, "deleted %d items of %s from %s\n", deleted, profileList(p.cfg.Names()), uc.Describe())
	} else {
		fmt.Fprintf(env.Stdout, "deleted %d keyring items of %s\n", deleted, profileList(p.cfg.Names()))
	}
	if err := os.Remove(p.cfgPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errorf(env, "uninstall: --purge: %v", err)
		return ExitError
	}
	fmt.Fprintf(env.Stdout, "removed the config file %s\n", p.cfgPath)
	return ExitOK
}
