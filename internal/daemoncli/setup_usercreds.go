package daemoncli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/sdcreds"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// userCredsFor is where a user without a Secret Service keeps systemd user-scoped
// credentials: a credentials directory next to the config file.
var userCredsFor = func(cfgPath string) *keystore.UserCredentials {
	return &keystore.UserCredentials{Dir: filepath.Join(filepath.Dir(cfgPath), "credentials")}
}

// setupUserCredentials stores the profile's secrets as systemd user-scoped credentials
// (systemd >= 256): the fallback of a user whose keyring is unavailable (a server, no
// desktop session), and the place of a profile already kept there. Both secrets are
// encrypted before either file is written. done is false when the user scope cannot be
// used here; why then says so.
func setupUserCredentials(ctx context.Context, env *Env, o setupOptions, next *config.Config, existed bool,
	keyPEM []byte, cs secret.Value, keyringErr error) (code int, done bool, why error) {
	uc := userCredsFor(o.config)
	type sealed struct {
		key, what string
		blob      []byte
	}
	var out []sealed
	for _, it := range []struct {
		key, what string
		val       []byte
	}{{keystore.PrivateKeyKey(o.profile), "private key", keyPEM}, {keystore.ClientSecretKey(o.profile), "client secret", secretBytes(cs)}} {
		if it.val == nil {
			if p := uc.Path(it.key); !fileExists(p) {
				errorf(env, "setup: profile %q has no stored %s (%s)", o.profile, it.what, p)
				hintf(env, "pass it again: --private-key-file FILE, and the client secret on stdin")
				return ExitUsage, true, nil
			}
			continue
		}
		blob, err := uc.Seal(ctx, it.key, it.val)
		clear(it.val)
		if err != nil {
			if errors.Is(err, sdcreds.ErrNoUserScope) {
				return 0, false, err
			}
			errorf(env, "setup: encrypting the %s: %v", it.what, err)
			hintf(env, "nothing was changed")
			return ExitError, true, nil
		}
		out = append(out, sealed{it.key, it.what, blob})
	}
	for _, s := range out {
		if err := uc.Write(s.key, s.blob); err != nil {
			errorf(env, "setup: %v", err)
			return ExitError, true, nil
		}
	}
	if err := config.Save(o.config, next); err != nil {
		errorf(env, "setup: %v", err)
		return ExitError, true, nil
	}
	verb := "added"
	if existed {
		verb = "updated"
	}
	if keyringErr != nil {
		fmt.Fprintf(env.Stdout, "no keyring is reachable (%v): using systemd user credentials instead\n", keyringErr)
	}
	fmt.Fprintf(env.Stdout, "profile %q %s: secrets encrypted as systemd user credentials in %s (only your user on this machine can decrypt them), settings in %s\n",
		o.profile, verb, uc.Dir, o.config)
	if o.privateKeyFile != "" {
		fmt.Fprintf(env.Stdout, "the key file is no longer needed: `shred -u %s`\n", o.privateKeyFile)
	}
	return ExitOK, true, nil
}

func secretBytes(cs secret.Value) []byte {
	if cs.IsZero() {
		return nil
	}
	return []byte(cs.Reveal())
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// withUserCredentials makes a daemon read its secrets from the systemd user credentials next
// to cfgPath when setup put them there, in place of the OS keyring (another secret source
// chosen explicitly, such as a credentials directory, stays). Tokens are then cached the
// way the files mode caches them, in the kernel keyring (memory where keyctl is blocked),
// rather than in the unreachable keyring.
func withUserCredentials(st stores, o storeOptions, cfgPath string) (stores, bool) {
	if _, keyring := st.secrets.(*keystore.Keyring); !keyring {
		return st, false
	}
	uc := userCredsFor(cfgPath)
	if !uc.Has() {
		return st, false
	}
	st.secrets = uc
	if _, keyring := st.tokens.(*keystore.Keyring); keyring {
		st.tokens = keystore.NewKernelKeyring(o.socket)
	}
	return st, true
}

// checkUserCredentials replaces doctor's keyring check when the secrets are systemd user
// credentials: systemd's version and whether its user scope answers.
func (d *doctor) checkUserCredentials(ctx context.Context) []checkResult {
	v, verr := sdcreds.Version(ctx)
	vs := "systemd version unknown"
	if verr == nil {
		vs = fmt.Sprintf("systemd %d: %s", v, sdcreds.Features(v))
	}
	uc, _ := d.secrets.(*keystore.UserCredentials)
	if uc == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := uc.Available(cctx); err != nil {
		return d.one("usercreds", levelFail, vs+"; "+err.Error(),
			"user-scoped credentials need systemd 256 or later with /run/systemd/io.systemd.Credentials; elsewhere use a keyring, `sudo "+prog+" setup --system-user`, or `run --credentials-dir`")
	}
	return d.one("usercreds", levelOK, vs+"; io.systemd.Credentials answers in the user scope", "")
}

// secretStoreFor is the store the verbs that edit or remove secrets use for the config at
// cfgPath: its systemd user credentials when setup put the secrets there, else the keyring.
func secretStoreFor(cfgPath string) keystore.Store {
	if uc := userCredsFor(cfgPath); uc.Has() {
		return uc
	}
	return storeFor()
}
