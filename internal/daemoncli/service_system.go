package daemoncli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
)

// runSystemInstall is `install --system-user USER`: the template unit and the instance's
// drop-ins, then enable (multi-user.target) and start, which waits for READY=1.
func runSystemInstall(ctx context.Context, env *Env, o installOptions) int {
	t, code, ok := systemPrecheck(ctx, env, "install", o.systemUser)
	if !ok {
		return code
	}
	if o.socket != "" && o.socket != env.Getenv("LWTOKEN_HELPER_SOCKET") || o.config != "" && o.config != env.Getenv(config.EnvConfig) {
		errorf(env, "install: --socket and --config do not combine with --system-user: the service uses %s and %s", t.socketPath(), t.configPath())
		return ExitUsage
	}
	if !systemdRunning() {
		errorf(env, "install: systemd is not running as the init system here (no /run/systemd/system)")
		hintf(env, "run the daemon under your init system or in the container's entrypoint: `%s run --config %s` as %s", prog, t.configPath(), t.user)
		return ExitNoServiceManager
	}
	cfg, err := config.LoadTrusted(t.configPath(), t.uid) // what the service, run as t.uid, accepts
	if errors.Is(err, config.ErrNotFound) || (err == nil && len(cfg.Profiles) == 0) {
		errorf(env, "install: %s has no profile yet", t.user)
		hintf(env, "first: `sudo %s setup --system-user %s --profile default --client-id ID --service-account SA --scope SCOPES --private-key-file FILE`", prog, t.user)
		return ExitNotConfigured
	}
	if err != nil {
		errorf(env, "install: %v", err)
		hintf(env, "%s", configFix(err, fmt.Sprintf("fix the file (it holds no secrets) or rerun `%s setup --system-user %s`", prog, t.user)))
		return ExitNotConfigured
	}
	for _, name := range cfg.Names() {
		for _, id := range []string{privateKeyCred(name), clientSecretCred(name)} {
			if _, err := os.Stat(t.credPath(id)); err != nil {
				errorf(env, "install: profile %s of %s has no encrypted credential %s", name, t.user, t.credPath(id))
				hintf(env, "rerun `%s setup --system-user %s --profile %s --private-key-file FILE` with the secret on stdin", prog, t.user, name)
				return ExitNotConfigured
			}
		}
	}
	exe, warning, err := resolveExecutable(o.executable)
	if err == nil {
		err = reachableByOthers(exe)
	}
	if err != nil {
		errorf(env, "install: %v", err)
		hintf(env, "install the binary where the service user can run it, e.g. `install -m 755 %s /usr/local/bin/`, and run that one (or pass --executable)", prog)
		return ExitUsage
	}
	if why := unsafeInUnit(exe); why != "" || strings.ContainsAny(exe, " \t") {
		errorf(env, "install: the program path %q holds characters a unit file cannot carry safely", exe)
		return ExitUsage
	}
	if warning != "" {
		fmt.Fprintf(env.Stderr, "%s: warning: %s\n", prog, warning)
	}

	files := []struct {
		path string
		body []byte
	}{
		{filepath.Join(systemUnitDir, systemTemplate), systemTemplateUnit()},
		{t.runDropIn(), t.renderRunDropIn(systemSpec{executable: exe, logLevel: o.logLevel, httpsProxy: o.httpsProxy, noProxy: o.noProxy})},
		{t.credDropIn(), t.credentialsDropIn(cfg)},
	}
	if err := os.MkdirAll(t.dropInDir(), 0o755); err != nil {
		errorf(env, "install: %v", err)
		return ExitError
	}
	changed := false
	for _, f := range files {
		if old, err := os.ReadFile(f.path); err == nil && bytes.Equal(old, f.body) {
			continue
		}
		changed = true
		if err := writeFileAtomic(f.path, f.body, 0o644); err != nil {
			errorf(env, "install: %v", err)
			return ExitError
		}
	}
	unit := t.unit()
	steps := [][]string{{"daemon-reload"}, {"enable", "--quiet", unit}}
	active := unitProps(ctx, unit, "ActiveState")["ActiveState"] == "active"
	switch {
	case !active:
		steps = append(steps, []string{"start", unit})
	case changed:
		steps = append(steps, []string{"restart", unit})
	}
	for _, s := range steps {
		if out, err := systemctl(ctx, s...); err != nil {
			return systemStartFailed(ctx, env, t, s, out, err)
		}
	}
	if !waitForSocket(t.socketPath(), 5*time.Second) {
		errorf(env, "install: %s started, but no socket appeared at %s", unit, t.socketPath())
		hintf(env, "its logs: `journalctl -u %s`", unit)
		return ExitNoDaemon
	}
	p := unitProps(ctx, unit, "MainPID", "StatusText")
	switch {
	case !changed && active:
		fmt.Fprintf(env.Stdout, "%s is already installed, up to date and running: nothing changed\n", unit)
	case active:
		fmt.Fprintf(env.Stdout, "updated and restarted %s\n", unit)
	default:
		fmt.Fprintf(env.Stdout, "installed and started %s\n", unit)
	}
	fmt.Fprintf(env.Stdout, "  runs:    %s run as %s, pid %s (%s)\n", exe, t.user, p["MainPID"], orDefault(p["StatusText"], "starting"))
	fmt.Fprintf(env.Stdout, "  socket:  %s (found by %s's `lwtoken-helper get` with no variables)\n", t.socketPath(), t.user)
	fmt.Fprintf(env.Stdout, "  enabled: starts at boot (multi-user.target); restarted 1 s after a crash; stopped for good when its credentials do not decrypt (243)\n")
	if o.httpsProxy != "" {
		fmt.Fprintf(env.Stdout, "  proxy:   HTTPS_PROXY=%s NO_PROXY=%s\n", o.httpsProxy, o.noProxy)
	}
	fmt.Fprintf(env.Stdout, "  units:   %s and %s/\n", filepath.Join(systemUnitDir, systemTemplate), t.dropInDir())
	fmt.Fprintf(env.Stdout, "  its logs: `journalctl -u %s`; checks: `sudo %s doctor --system-user %s`\n", unit, prog, t.user)
	return ExitOK
}

// systemStartFailed reports a failed systemctl step, naming undecryptable credentials
// (status 243) for what they are.
func systemStartFailed(ctx context.Context, env *Env, t systemTarget, step []string, out []byte, err error) int {
	p := unitProps(ctx, t.unit(), "ExecMainStatus", "Result", "NRestarts")
	if p["ExecMainStatus"] == "243" || p["Result"] == "exit-code" && strings.Contains(string(out), "243") {
		errorf(env, "install: %s failed: systemd could not decrypt its credentials on this machine (243/CREDENTIALS); it stays stopped", t.unit())
		hintf(env, "credentials copied from another machine, or a changed host key or TPM, never decrypt: run `%s setup --system-user %s ...` again on this machine", prog, t.user)
		hintf(env, "`sudo %s doctor --system-user %s` names the file", prog, t.user)
		return ExitError
	}
	errorf(env, "install: systemctl %s: %s (result %s, exit status %s)", strings.Join(step, " "), orErr(out, err), orDefault(p["Result"], "?"), orDefault(p["ExecMainStatus"], "?"))
	hintf(env, "its logs: `journalctl -u %s`; `sudo %s doctor --system-user %s` checks the whole chain", t.unit(), prog, t.user)
	return ExitError
}

func waitForSocket(path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reachableByOthers fails when a user other than the owner cannot run the program at path
// (a binary under /root or a 0700 home): the service runs as the service user.
func reachableByOthers(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o001 == 0 {
		return fmt.Errorf("%s is not executable by other users (mode %04o)", path, fi.Mode().Perm())
	}
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is inside %s, which other users cannot enter (mode %04o)", path, d, fi.Mode().Perm())
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

// runSystemUninstall is `uninstall --system-user USER [--purge [--yes]]`: stop and disable
// the instance, remove its drop-ins (and the template with the last instance); --purge
// also removes the user's encrypted credentials and config.
func runSystemUninstall(ctx context.Context, env *Env, o uninstallOptions) int {
	if os.Geteuid() != 0 {
		errorf(env, "uninstall: --system-user needs root")
		hintf(env, "run it with sudo: `sudo %s uninstall --system-user %s`", prog, o.systemUser)
		return ExitError
	}
	t, err := lookupSystemUser(o.systemUser)
	if err != nil {
		// The user may be gone already: what is left is found by name.
		if strings.ContainsAny(o.systemUser, "/%$\"'\\ \t\n") || o.systemUser == "" || o.systemUser == "root" {
			errorf(env, "uninstall: --system-user: %v", err)
			return ExitUsage
		}
		t = systemTarget{user: o.systemUser}
	}
	_, statErr := os.Stat(t.dir())
	if o.purge && statErr == nil {
		what := fmt.Sprintf("delete the encrypted credentials and the config of %s (%s)", t.user, t.dir())
		if code, ok := confirmPurge(env, what, o.yes); !ok {
			return code
		}
	}
	unit := t.unit()
	if _, err := os.Stat(t.dropInDir()); err == nil {
		if systemdRunning() {
			if out, err := systemctl(ctx, "disable", "--now", "--quiet", unit); err != nil {
				errorf(env, "uninstall: systemctl disable --now %s: %s", unit, orErr(out, err))
				hintf(env, "its state: `systemctl status %s`", unit)
				return ExitError
			}
		}
		if err := os.RemoveAll(t.dropInDir()); err != nil {
			errorf(env, "uninstall: %v", err)
			return ExitError
		}
		others, _ := filepath.Glob(filepath.Join(systemUnitDir, serviceName+"@*.service.d"))
		if len(others) == 0 {
			os.Remove(filepath.Join(systemUnitDir, systemTemplate))
		}
		if systemdRunning() {
			systemctl(ctx, "daemon-reload")
			systemctl(ctx, "reset-failed", unit)
		}
		fmt.Fprintf(env.Stdout, "stopped, disabled and removed %s (%s)\n", unit, t.dropInDir())
	} else {
		fmt.Fprintf(env.Stdout, "%s is not installed: nothing to remove\n", unit)
	}
	if !o.purge {
		if statErr == nil {
			fmt.Fprintf(env.Stdout, "kept the encrypted credentials and settings in %s (`--purge` removes them)\n", t.dir())
		}
		return ExitOK
	}
	if statErr != nil {
		fmt.Fprintf(env.Stdout, "no credentials or settings for %s (%s): nothing to purge\n", t.user, t.dir())
		return ExitOK
	}
	if err := os.RemoveAll(t.dir()); err != nil {
		errorf(env, "uninstall: --purge: %v", err)
		return ExitError
	}
	fmt.Fprintf(env.Stdout, "removed the encrypted credentials and the config of %s (%s)\n", t.user, t.dir())
	fmt.Fprintf(env.Stdout, "tokens already issued stay valid until they expire; `lwtoken-helper revoke` as %s before uninstalling revokes them\n", t.user)
	return ExitOK
}
