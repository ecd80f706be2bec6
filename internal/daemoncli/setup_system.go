package daemoncli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/sdcreds"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
)

// prepareSystemSetup checks `setup --system-user USER` before anything is read: root, the
// user, systemd's credential support, the flags; it points the config at the user's
// root-owned one.
func prepareSystemSetup(ctx context.Context, env *Env, o *setupOptions) (int, bool) {
	if o.delete {
		errorf(env, "setup: --delete does not combine with --system-user")
		hintf(env, "`%s uninstall --system-user %s --purge` removes the service user's profiles, credentials and config", prog, o.systemUser)
		return ExitUsage, false
	}
	if o.config != "" && env.Getenv("LWTOKEN_HELPER_CONFIG") != o.config {
		errorf(env, "setup: --config does not combine with --system-user: the service's config is %s", systemConfigBase+"/"+o.systemUser+"/config.toml")
		return ExitUsage, false
	}
	if !slices.Contains(sdcreds.WithKeys, o.withKey) {
		errorf(env, "setup: --with-key %q: use %s", o.withKey, strings.Join(sdcreds.WithKeys, ", "))
		return ExitUsage, false
	}
	t, code, ok := systemPrecheck(ctx, env, "setup", o.systemUser)
	if !ok {
		return code, false
	}
	o.sys = &t
	o.config = t.configPath()
	o.socket = "" // root cannot talk to the service user's daemon; it is restarted instead
	return ExitOK, true
}

// finishSystemSetup encrypts the new secrets with systemd-creds (nothing plaintext touches
// the disk), writes them as root-only ciphertext files, then the config, then updates the
// unit's credential list and restarts a running instance so that it loads them.
func finishSystemSetup(ctx context.Context, env *Env, o setupOptions, next *config.Config, existed bool, keyPEM []byte, cs secret.Value) int {
	t := *o.sys
	type credFile struct {
		id, what string
		enc      *sdcreds.Encrypted
	}
	var files []credFile
	seal := func(id, what string, plain []byte) bool {
		enc, err := sdcreds.Encrypt(ctx, id, o.withKey, plain)
		clear(plain)
		if err != nil {
			errorf(env, "setup: encrypting the %s: %v", what, err)
			if o.withKey != "auto" && o.withKey != "host" {
				hintf(env, "--with-key auto uses the TPM2 where one is usable and the host key otherwise")
			}
			hintf(env, "nothing was changed")
			return false
		}
		files = append(files, credFile{id, what, enc})
		return true
	}
	if keyPEM != nil && !seal(privateKeyCred(o.profile), "private key", keyPEM) {
		return ExitError
	}
	if !cs.IsZero() && !seal(clientSecretCred(o.profile), "client secret", []byte(cs.Reveal())) {
		return ExitError
	}
	// An existing profile keeps the credentials it has; both must exist in the end.
	for _, id := range []string{privateKeyCred(o.profile), clientSecretCred(o.profile)} {
		if slices.ContainsFunc(files, func(f credFile) bool { return f.id == id }) {
			continue
		}
		if _, err := os.Stat(t.credPath(id)); err != nil {
			errorf(env, "setup: profile %q of %s has no stored %s (%s)", o.profile, t.user, id, t.credPath(id))
			hintf(env, "pass it again: --private-key-file FILE, and the client secret on stdin")
			return ExitUsage
		}
	}
	for _, dir := range []struct {
		path string
		mode fs.FileMode
	}{{systemConfigBase, 0o755}, {t.dir(), 0o755}, {t.credDir(), 0o700}} {
		if err := ensureRootDir(dir.path, dir.mode); err != nil {
			errorf(env, "setup: %v", err)
			return ExitError
		}
	}
	for _, f := range files {
		if err := writeFileAtomic(t.credPath(f.id), f.enc.Blob, 0o600); err != nil {
			errorf(env, "setup: writing the encrypted %s: %v", f.what, err)
			return ExitError
		}
	}
	if err := config.Save(o.config, next); err != nil {
		errorf(env, "setup: %v", err)
		return ExitError
	}
	// Non-secret and read by the daemon as the service user.
	os.Chmod(o.config, 0o644)

	verb := "added"
	if existed {
		verb = "updated"
	}
	fmt.Fprintf(env.Stdout, "profile %q %s for system user %s: settings in %s\n", o.profile, verb, t.user, o.config)
	hostOnly, unencrypted := false, false
	for _, f := range files {
		fmt.Fprintf(env.Stdout, "  %-14s %s (encrypted, sealed with the %s)\n", f.what+":", t.credPath(f.id), f.enc.Key)
		hostOnly = hostOnly || f.enc.Key == sdcreds.KeyHost && o.withKey == "auto"
		unencrypted = unencrypted || f.enc.HostKeyUnencrypted
	}
	if hostOnly {
		fmt.Fprintf(env.Stdout, "no usable TPM2 here: the credentials are bound to this machine's host key %s\n", sdcreds.HostKeyPath)
	}
	if unencrypted {
		fmt.Fprintf(env.Stderr, "%s: warning: the host key %s is not on encrypted media: whoever can read this disk offline can decrypt these credentials; use disk encryption, or a TPM2 (--with-key tpm2)\n", prog, sdcreds.HostKeyPath)
	}
	if o.privateKeyFile != "" {
		fmt.Fprintf(env.Stdout, "the key file is no longer needed: `shred -u %s`\n", o.privateKeyFile)
	}
	return refreshSystemInstance(ctx, env, t, next, "setup")
}

// ensureRootDir creates dir (root-owned, mode) or checks that an existing one is root's
// and not writable by others.
func ensureRootDir(dir string, mode fs.FileMode) error {
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if uid, ok := ownerOf(dir); !ok || uid != 0 {
		return fmt.Errorf("%s is not owned by root: refusing to keep credentials there", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by others (mode %04o): refusing to keep credentials there", dir, fi.Mode().Perm())
	}
	return os.Chmod(dir, mode)
}

// refreshSystemInstance rewrites an installed instance's credential list from cfg and,
// if it runs, restarts it so that it loads the new credentials. Nothing happens when the
// instance is not installed.
func refreshSystemInstance(ctx context.Context, env *Env, t systemTarget, cfg *config.Config, verb string) int {
	if _, err := os.Stat(t.runDropIn()); err != nil {
		fmt.Fprintf(env.Stdout, "next: `%s install --system-user %s` installs and starts the service\n", prog, t.user)
		return ExitOK
	}
	if err := writeFileAtomic(t.credDropIn(), t.credentialsDropIn(cfg), 0o644); err != nil {
		errorf(env, "%s: %v", verb, err)
		return ExitError
	}
	if out, err := systemctl(ctx, "daemon-reload"); err != nil {
		errorf(env, "%s: systemctl daemon-reload: %s", verb, orErr(out, err))
		return ExitError
	}
	if out, err := systemctl(ctx, "try-restart", t.unit()); err != nil {
		errorf(env, "%s: restarting %s failed: %s", verb, t.unit(), orErr(out, err))
		hintf(env, "its logs: `journalctl -u %s`; `%s doctor --system-user %s` checks the credentials", t.unit(), prog, t.user)
		return ExitError
	}
	if p := unitProps(ctx, t.unit(), "ActiveState"); p["ActiveState"] == "active" {
		fmt.Fprintf(env.Stdout, "restarted %s: it runs with the new settings\n", t.unit())
	} else {
		fmt.Fprintf(env.Stdout, "%s is installed but not running: `systemctl start %s`\n", t.unit(), t.unit())
	}
	return ExitOK
}

func orErr(out []byte, err error) string {
	if l := firstLine(out); l != "" {
		return lower(l)
	}
	return err.Error()
}
