package daemoncli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/sdcreds"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// The system service (`setup/install/uninstall --system-user USER`): a system unit that runs
// `lwtoken-helperd run` as USER with the profile's secrets as systemd credentials, encrypted
// at rest with the host key or the TPM2 and decrypted by systemd into the service's
// $CREDENTIALS_DIRECTORY at each start. Layout (docs/service.md, "System service"):
//
//	/etc/lwtoken-helper/USER/config.toml                        non-secret settings, root-owned, 0644
//	/etc/lwtoken-helper/USER/credentials/PROFILE.private-key.cred    ciphertext only, root-owned, 0600
//	/etc/lwtoken-helper/USER/credentials/PROFILE.client-secret.cred  (in a 0700 directory)
//	/etc/systemd/system/lwtoken-helperd@.service                the template, shared by every user
//	/etc/systemd/system/lwtoken-helperd@USER.service.d/10-run.conf          install's settings
//	/etc/systemd/system/lwtoken-helperd@USER.service.d/20-credentials.conf  one LoadCredentialEncrypted= per file
//	/run/lwtoken-helper/UID/sock                                the socket (RuntimeDirectory=, 0700, USER's)
//
// Each credential's name (embedded at encryption, checked by systemd at decryption) is its
// file name in $CREDENTIALS_DIRECTORY: PROFILE.private-key and PROFILE.client-secret.
var (
	systemConfigBase = "/etc/lwtoken-helper"
	systemUnitDir    = "/etc/systemd/system"
)

const (
	systemTemplate = serviceName + "@.service"
	// credSuffix ends every encrypted credential file.
	credSuffix = ".cred"
)

// systemTarget is the service user a --system-user verb works for.
type systemTarget struct {
	user string
	uid  int
	gid  int
}

func (t systemTarget) dir() string               { return filepath.Join(systemConfigBase, t.user) }
func (t systemTarget) configPath() string        { return filepath.Join(t.dir(), "config.toml") }
func (t systemTarget) credDir() string           { return filepath.Join(t.dir(), "credentials") }
func (t systemTarget) unit() string              { return serviceName + "@" + t.user + ".service" }
func (t systemTarget) dropInDir() string         { return filepath.Join(systemUnitDir, t.unit()+".d") }
func (t systemTarget) runDropIn() string         { return filepath.Join(t.dropInDir(), "10-run.conf") }
func (t systemTarget) credDropIn() string        { return filepath.Join(t.dropInDir(), "20-credentials.conf") }
func (t systemTarget) socketDir() string         { return fmt.Sprintf("%s/%d", wire.SystemSocketBase, t.uid) }
func (t systemTarget) socketPath() string        { return t.socketDir() + "/sock" }
func (t systemTarget) credPath(id string) string { return filepath.Join(t.credDir(), id+credSuffix) }

// Credential ids of a profile: the names systemd checks and the file names the daemon reads.
func privateKeyCred(profile string) string   { return profile + ".private-key" }
func clientSecretCred(profile string) string { return profile + ".client-secret" }

// lookupSystemUser resolves name to a service user. Root is refused: the daemon must not
// hold root's powers, and a token service for root is one for every user.
func lookupSystemUser(name string) (systemTarget, error) {
	if name == "" || strings.ContainsAny(name, "/%$\"'\\ \t\n") || strings.HasPrefix(name, "-") {
		return systemTarget{}, fmt.Errorf("%q is not a usable user name", name)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return systemTarget{}, fmt.Errorf("no user %q on this machine: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return systemTarget{}, fmt.Errorf("user %q has a non-numeric uid or gid", name)
	}
	if uid == 0 {
		return systemTarget{}, errors.New("the service user must not be root")
	}
	return systemTarget{user: name, uid: uid, gid: gid}, nil
}

// systemPrecheck is what every --system-user verb checks first: root, a usable user, and a
// systemd with encrypted credentials. It prints the error and hints and returns the exit
// code when the verb cannot go on.
func systemPrecheck(ctx context.Context, env *Env, verb, name string) (systemTarget, int, bool) {
	if os.Geteuid() != 0 {
		errorf(env, "%s: --system-user needs root: it writes under /etc and uses the machine's credential key", verb)
		hintf(env, "run it with sudo: `sudo %s %s --system-user %s ...`", prog, verb, name)
		return systemTarget{}, ExitError, false
	}
	t, err := lookupSystemUser(name)
	if err != nil {
		errorf(env, "%s: --system-user: %v", verb, err)
		hintf(env, "create a dedicated user first, e.g. `useradd --system --create-home %s`", orDefault(name, "lwbot"))
		return systemTarget{}, ExitUsage, false
	}
	v, err := sdcreds.Version(ctx)
	if err == nil && v >= sdcreds.MinEncrypted {
		if _, lerr := exec.LookPath("systemd-creds"); lerr != nil {
			err = sdcreds.ErrNoSystemdCreds
		}
	}
	if err != nil || v < sdcreds.MinEncrypted {
		have := "no systemd was found"
		if err == nil {
			have = fmt.Sprintf("this machine has systemd %d", v)
		} else if errors.Is(err, sdcreds.ErrNoSystemdCreds) {
			have = "systemd-creds is not installed"
		}
		errorf(env, "%s: --system-user needs systemd %d or later for encrypted credentials, and %s", verb, sdcreds.MinEncrypted, have)
		hintf(env, "or use the files mode: keep the key and secret in root-owned 0400 files, load them with `LoadCredential=PROFILE.private-key:/path` and `LoadCredential=PROFILE.client-secret:/path` in a unit running `%s run` (it reads $CREDENTIALS_DIRECTORY), or `%s run --credentials-dir DIR`", prog, prog)
		hintf(env, "or the desktop keyring: `%s setup` and `%s install` as that user in a session with a Secret Service (docs/service.md)", prog, prog)
		return systemTarget{}, ExitNoServiceManager, false
	}
	return t, ExitOK, true
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// credentialsDropIn renders 20-credentials.conf: one LoadCredentialEncrypted= with an
// explicit path per credential of a configured profile, so a missing or undecryptable
// file fails the unit (243/CREDENTIALS) instead of starting it without.
func (t systemTarget) credentialsDropIn(cfg *config.Config) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by `%s setup --system-user %s` and `install --system-user`; rewritten by both.\n", prog, t.user)
	b.WriteString("# The secrets of each profile, encrypted at rest; systemd decrypts them into $CREDENTIALS_DIRECTORY.\n[Service]\n")
	for _, name := range cfg.Names() {
		for _, id := range []string{privateKeyCred(name), clientSecretCred(name)} {
			fmt.Fprintf(&b, "LoadCredentialEncrypted=%s:%s\n", id, t.credPath(id))
		}
	}
	return b.Bytes()
}

// systemSpec is what install writes into 10-run.conf.
type systemSpec struct {
	executable string
	logLevel   string
	httpsProxy string
	noProxy    string
}

func (t systemTarget) renderRunDropIn(s systemSpec) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by `%s install --system-user %s`; rerun it to change this file.\n[Service]\n", prog, t.user)
	// The socket clients of uid find with no variables (wire.SystemSocketDir).
	fmt.Fprintf(&b, "RuntimeDirectory=%s\n", strings.TrimPrefix(t.socketDir(), "/run/"))
	fmt.Fprintf(&b, "ExecStart=%s run --socket %s --config %s --log-level %s\n", s.executable, t.socketPath(), t.configPath(), s.logLevel)
	b.Write(proxyEnvironment(s.httpsProxy, s.noProxy))
	return b.Bytes()
}

// proxyEnvironment renders the admin's proxy settings as Environment= lines (nothing when
// none was given: a proxy is never guessed).
func proxyEnvironment(httpsProxy, noProxy string) []byte {
	var b bytes.Buffer
	if httpsProxy != "" {
		fmt.Fprintf(&b, "Environment=HTTPS_PROXY=%s\n", httpsProxy)
	}
	if noProxy != "" {
		fmt.Fprintf(&b, "Environment=NO_PROXY=%s\n", noProxy)
	}
	return b.Bytes()
}

// systemTemplateUnit renders the template lwtoken-helperd@.service: everything the
// instances share. The sandboxing is the per-user unit's list (sandboxDirectives).
func systemTemplateUnit() []byte {
	var b bytes.Buffer
	b.WriteString(`# A systemd system unit template written by ` + "`" + prog + ` install --system-user USER` + "`" + `; removed by
# ` + "`" + prog + ` uninstall --system-user` + "`" + ` with its last instance. Each instance's settings are drop-ins in
# ` + systemUnitDir + `/` + serviceName + `@USER.service.d/ (the socket, ExecStart, the credentials, proxies).
[Unit]
Description=lwtoken-helper daemon for %i: LINE WORKS access tokens over a private socket
Wants=network-online.target
After=network-online.target
# No start-rate limit: Restart= below always brings the daemon back.
StartLimitIntervalSec=0

[Service]
# The daemon sends READY=1 once its socket listens, and keeps STATUS= current.
Type=notify
User=%i
ExecReload=kill -HUP $MAINPID
Restart=on-failure
RestartSec=1
# Restarting cannot fix these: ` + RestartPreventExitStatus() + ` (bad flags, invalid or unsafe configuration:
# NoRestartExitCodes), 243 credentials that do not decrypt here (copied from another machine, a
# changed host key). A crash (a panic or SIGQUIT/SIGABRT exits with 2) is restarted.
RestartPreventExitStatus=` + RestartPreventExitStatus() + ` 243
TimeoutStopSec=15
UMask=0077
# The socket's directory: private to the service user (the daemon refuses anything else).
RuntimeDirectoryMode=0700
# The token cache lives in the service user's kernel keyring (@u) so a restart mints
# nothing; shared lets the daemon possess that keyring (the cache also copes with the
# default, private, by linking each key into @u with permissions for the user).
KeyringMode=shared
`)
	for _, d := range sandboxDirectives {
		b.WriteString(d + "\n")
	}
	b.WriteString(`
[Install]
WantedBy=multi-user.target
`)
	return b.Bytes()
}

// writeFileAtomic writes b to path through a temporary file in the same directory and a
// rename, with mode perm: a reader sees the old file or the new one, never a part.
func writeFileAtomic(path string, b []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// systemctl runs `systemctl ARGS` (the system manager) and returns its combined output.
func systemctl(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
	defer cancel()
	return exec.CommandContext(ctx, "systemctl", append([]string{"--no-pager"}, args...)...).CombinedOutput()
}

// systemdRunning reports whether systemd is PID 1 here (the test systemd itself uses).
func systemdRunning() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// unitProps reads properties of a system unit.
func unitProps(ctx context.Context, unit string, props ...string) map[string]string {
	out, err := systemctl(ctx, "show", "--property="+strings.Join(props, ","), unit)
	m := map[string]string{}
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = v
		}
	}
	return m
}
