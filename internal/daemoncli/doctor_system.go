package daemoncli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/sdcreds"
)

// doctor for the system service (`install --system-user`): run as root, or as the service
// user (the default then). Its checks replace the keyring and per-user service ones:
// systemd's credential features, what sealed the credentials, whether they decrypt here (as
// root), the unit, the socket, the daemon, and the token endpoint through the unit's proxy.

// systemDoctorTarget says whether doctor checks a system service: --system-user, or a user
// who has a system service's config and asked for no other config or socket.
func systemDoctorTarget(env *Env, o doctorOptions) (systemTarget, bool) {
	if o.systemUser != "" {
		return systemTarget{user: o.systemUser, uid: -1}, true
	}
	if os.Geteuid() == 0 || o.config != "" || o.socket != "" {
		return systemTarget{}, false
	}
	u, err := user.Current()
	if err != nil {
		return systemTarget{}, false
	}
	t, err := lookupSystemUser(u.Username)
	if err != nil {
		return systemTarget{}, false
	}
	if _, err := os.Stat(t.configPath()); err != nil {
		return systemTarget{}, false
	}
	return t, true
}

type sysDoctor struct {
	*doctor
	t    systemTarget
	root bool
}

func runSystemDoctor(ctx context.Context, env *Env, t systemTarget) int {
	if t.uid < 0 {
		lt, err := lookupSystemUser(t.user)
		if err != nil {
			errorf(env, "doctor: --system-user: %v", err)
			hintf(env, "name the user the service runs as (`systemctl list-units '%s@*'`)", serviceName)
			return ExitUsage
		}
		t = lt
	}
	// The token endpoint is reached the way the daemon does: through the proxy in its unit.
	proxy := unitProxyEnv(t.runDropIn())
	for k, v := range proxy {
		os.Setenv(k, v) // read once by net/http's ProxyFromEnvironment, at the first request below
	}
	d := &doctor{
		getenv:  env.Getenv,
		uid:     t.uid,
		cfgPath: t.configPath(),
		socket:  t.socketPath(),
		httpClient: &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		now:     time.Now,
		timeout: 10 * time.Second,
	}
	sd := &sysDoctor{doctor: d, t: t, root: os.Geteuid() == 0}
	d.checks = []func(context.Context) []checkResult{
		d.checkConfig, sd.checkSystemd, sd.checkSealing, sd.checkCredentials, sd.checkUnit, sd.checkSystemSocket, sd.checkSystemDaemon,
		func(ctx context.Context) []checkResult {
			out := d.checkEndpoint(ctx)
			if p := proxy["HTTPS_PROXY"]; p != "" {
				for i := range out {
					out[i].msg += " (through the unit's proxy " + p + ")"
				}
			}
			return out
		},
		d.checkClock,
	}
	fmt.Fprintf(env.Stdout, "checking the system service of %s (%s)\n", t.user, t.unit())
	return d.run(ctx, env)
}

// unitProxyEnv reads HTTPS_PROXY and NO_PROXY from the Environment= lines install wrote.
func unitProxyEnv(path string) map[string]string {
	m := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kv, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Environment=")
		if !ok {
			continue
		}
		if k, v, ok := strings.Cut(kv, "="); ok && (k == "HTTPS_PROXY" || k == "NO_PROXY") {
			m[k] = v
		}
	}
	return m
}

func (s *sysDoctor) checkSystemd(ctx context.Context) []checkResult {
	v, err := sdcreds.Version(ctx)
	if err != nil {
		return s.one("systemd", levelFail, err.Error(), "the system service needs systemd as the init system")
	}
	msg := fmt.Sprintf("systemd %d: %s", v, sdcreds.Features(v))
	if v < sdcreds.MinEncrypted {
		return s.one("systemd", levelFail, msg, "use the files mode (`LoadCredential=` and `"+prog+" run`) or the desktop keyring")
	}
	if !systemdRunning() {
		return s.one("systemd", levelFail, msg+"; but systemd is not the init system here", "run the service where systemd is PID 1")
	}
	return s.one("systemd", levelOK, msg, "")
}

// checkSealing says what protects the credentials at rest: the TPM2 or the host key, and
// whether the host key is on encrypted media.
func (s *sysDoctor) checkSealing(context.Context) []checkResult {
	tpm := "no TPM2 device"
	if _, err := os.Stat("/dev/tpmrm0"); err == nil {
		tpm = "a TPM2 device (/dev/tpmrm0)"
	}
	kinds := map[sdcreds.KeyKind]bool{}
	readable := true
	for _, name := range s.profileNames() {
		for _, id := range []string{privateKeyCred(name), clientSecretCred(name)} {
			b, err := os.ReadFile(s.t.credPath(id))
			if err != nil {
				readable = readable && !errors.Is(err, fs.ErrPermission)
				continue
			}
			if k, err := sdcreds.SealedWith(b); err == nil {
				kinds[k] = true
			}
		}
	}
	var sealed []string
	host := false
	for k := range kinds {
		sealed = append(sealed, string(k))
		host = host || k.UsesHostKey()
	}
	switch {
	case !readable:
		return s.one("key", levelSkip, tpm+"; the credentials are root's: `sudo "+prog+" doctor --system-user "+s.t.user+"` shows what sealed them", "")
	case len(sealed) == 0:
		return s.one("key", levelSkip, tpm+"; no credential to inspect", "")
	}
	msg := fmt.Sprintf("%s; credentials sealed with the %s", tpm, strings.Join(sealed, ", the "))
	if host {
		if _, err := os.Stat(sdcreds.HostKeyPath); err != nil {
			return s.one("key", levelFail, msg+"; but there is no host key "+sdcreds.HostKeyPath+" on this machine",
				"these credentials were sealed elsewhere: rerun `"+prog+" setup --system-user "+s.t.user+" ...` here")
		}
		if enc, known := onEncryptedMedia(sdcreds.HostKeyPath); known && !enc {
			return s.one("key", levelWarn, msg+"; the host key "+sdcreds.HostKeyPath+" is not on encrypted media",
				"whoever reads this disk offline can decrypt the credentials: encrypt the disk, or reseal with a TPM2 (`setup --system-user "+s.t.user+" --with-key tpm2 ...`)")
		}
	}
	return s.one("key", levelOK, msg, "")
}

func (s *sysDoctor) profileNames() []string {
	if s.cfg == nil {
		return nil
	}
	return s.cfg.Names()
}

// checkCredentials: each profile's two credential files exist and, as root, decrypt here
// (systemd-creds decrypt, plaintext to /dev/null).
func (s *sysDoctor) checkCredentials(ctx context.Context) []checkResult {
	names := s.profileNames()
	if len(names) == 0 {
		return s.one("creds", levelSkip, "no profile to check", "")
	}
	var out []checkResult
	redo := fmt.Sprintf("`sudo %s setup --system-user %s --profile %%s --private-key-file FILE` with the secret on stdin", prog, s.t.user)
	for _, name := range names {
		r := checkResult{name: "creds", level: levelOK}
		var ok []string
		for _, id := range []string{privateKeyCred(name), clientSecretCred(name)} {
			p := s.t.credPath(id)
			_, err := os.Stat(p)
			switch {
			case errors.Is(err, fs.ErrPermission):
				r.level, r.msg = levelSkip, fmt.Sprintf("profile %s: %s is root's; `sudo %s doctor --system-user %s` checks that the credentials decrypt", name, s.t.credDir(), prog, s.t.user)
			case err != nil:
				r.level, r.msg, r.fix = levelFail, fmt.Sprintf("profile %s: %s is missing (the unit then fails to start)", name, p), fmt.Sprintf(redo, name)
			case s.root:
				cctx, cancel := context.WithTimeout(ctx, s.timeout)
				err := sdcreds.CheckDecrypt(cctx, id, p)
				cancel()
				if err != nil {
					r.level, r.msg = levelFail, fmt.Sprintf("profile %s: %s %v", name, p, err)
					r.fix = "credentials only decrypt on the machine (host key or TPM2) that sealed them: " + fmt.Sprintf(redo, name)
				} else {
					ok = append(ok, id)
				}
			default:
				ok = append(ok, id)
			}
			if r.level != levelOK {
				break
			}
		}
		if r.level == levelOK {
			if s.root {
				r.msg = fmt.Sprintf("profile %s: %s decrypt on this machine", name, strings.Join(ok, " and "))
			} else {
				r.msg = fmt.Sprintf("profile %s: %s present", name, strings.Join(ok, " and "))
			}
		}
		out = append(out, r)
	}
	return out
}

func (s *sysDoctor) checkUnit(ctx context.Context) []checkResult {
	unit := s.t.unit()
	if _, err := os.Stat(s.t.runDropIn()); err != nil {
		return s.one("unit", levelFail, unit+" is not installed", fmt.Sprintf("`sudo %s install --system-user %s`", prog, s.t.user))
	}
	p := unitProps(ctx, unit, "ActiveState", "Result", "ExecMainStatus", "NRestarts", "MainPID", "UnitFileState", "StatusText")
	enabled := p["UnitFileState"] == "enabled"
	switch {
	case p["ExecMainStatus"] == "243" && p["ActiveState"] != "active":
		restarts := "it is not restarted"
		if p["NRestarts"] != "0" {
			restarts = "systemd restarted it " + p["NRestarts"] + " times: the unit lacks RestartPreventExitStatus=243 (reinstall it)"
		}
		return s.one("unit", levelFail, fmt.Sprintf("%s failed: systemd could not decrypt its credentials on this machine (243/CREDENTIALS); %s", unit, restarts),
			fmt.Sprintf("credentials copied from another machine, or after the host key or TPM changed, never decrypt: rerun `sudo %s setup --system-user %s ...` here", prog, s.t.user))
	case p["ActiveState"] == "active":
		msg := fmt.Sprintf("%s active, pid %s, %s automatic restarts", unit, p["MainPID"], p["NRestarts"])
		if p["StatusText"] != "" {
			msg += "; " + p["StatusText"]
		}
		if !enabled {
			return s.one("unit", levelWarn, msg+"; not enabled: it does not start at boot", "`sudo systemctl enable "+unit+"`")
		}
		if strings.Contains(p["StatusText"], "failing") {
			return s.one("unit", levelWarn, msg, "the daemon cannot mint tokens: read `journalctl -u "+unit+"`")
		}
		return s.one("unit", levelOK, msg+"; enabled at boot", "")
	case p["ActiveState"] == "failed":
		return s.one("unit", levelFail, fmt.Sprintf("%s failed (result %s, exit status %s)", unit, p["Result"], p["ExecMainStatus"]),
			"read `journalctl -u "+unit+"`, fix the cause, then `sudo systemctl restart "+unit+"`")
	}
	return s.one("unit", levelFail, fmt.Sprintf("%s installed but %s", unit, orDefault(p["ActiveState"], "unknown")), "`sudo systemctl start "+unit+"`")
}

func (s *sysDoctor) checkSystemSocket(context.Context) []checkResult {
	dir, sock := s.t.socketDir(), s.t.socketPath()
	fi, err := os.Lstat(dir)
	if err != nil {
		return s.one("socket", levelFail, dir+" does not exist: the service is not running", "start it: `sudo systemctl start "+s.t.unit()+"`")
	}
	if uid, _ := ownerOf(dir); uid != s.t.uid || fi.Mode().Perm() != 0o700 {
		return s.one("socket", levelFail, fmt.Sprintf("%s is owned by uid %d with mode %04o, not %s's with 0700", dir, uid, fi.Mode().Perm(), s.t.user),
			"reinstall: `sudo "+prog+" install --system-user "+s.t.user+"`")
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket {
		return s.one("socket", levelFail, sock+" is not a socket", "restart: `sudo systemctl restart "+s.t.unit()+"`")
	}
	return s.one("socket", levelOK, sock+" (directory private to "+s.t.user+"; "+s.t.user+"'s clients find it with no variables)", "")
}

func (s *sysDoctor) checkSystemDaemon(ctx context.Context) []checkResult {
	if s.root {
		return s.one("daemon", levelSkip, "as root: the daemon answers only "+s.t.user+" (`sudo -u "+s.t.user+" lwtoken-helper status` asks it)", "")
	}
	return s.checkDaemon(ctx)
}

// onEncryptedMedia reports whether the file at path lives on a dm-crypt device (the way
// systemd decides it warns); known is false when that cannot be told.
func onEncryptedMedia(path string) (encrypted, known bool) {
	maj, min, ok := deviceOf(path)
	if !ok || maj == 0 {
		return false, maj == 0 && ok // a virtual file system (tmpfs, overlay): not encrypted
	}
	return blockEncrypted(fmt.Sprintf("/sys/dev/block/%d:%d", maj, min), 0), true
}

func blockEncrypted(sysDir string, depth int) bool {
	if b, err := os.ReadFile(filepath.Join(sysDir, "dm", "uuid")); err == nil && strings.HasPrefix(string(b), "CRYPT-") {
		return true
	}
	if depth > 4 {
		return false
	}
	slaves, _ := filepath.Glob(filepath.Join(sysDir, "slaves", "*"))
	for _, sl := range slaves {
		if blockEncrypted(sl, depth+1) {
			return true
		}
	}
	// A partition: its parent device.
	if _, err := os.Stat(filepath.Join(sysDir, "partition")); err == nil {
		if parent, err := filepath.EvalSymlinks(filepath.Join(sysDir, "..")); err == nil {
			return blockEncrypted(parent, depth+1)
		}
	}
	return false
}

// applyUserUnitProxy gives doctor's endpoint probe the proxy settings of the installed
// per-user systemd unit, as the daemon started by it gets them (the unit's Environment=
// wins over the shell's). It returns the proxy used, "" for none.
func applyUserUnitProxy() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	env := unitProxyEnv(serviceFile(platformSystemd, home))
	for k, v := range env {
		os.Setenv(k, v) // read once by net/http's ProxyFromEnvironment, at the first request
	}
	return env["HTTPS_PROXY"]
}
