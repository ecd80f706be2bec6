package daemoncli

import (
	"github.com/lwtoken-helper/lwtoken-helper/internal/cli"

	"context"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/daemon"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// Clock skew limits of doctor's clock check, against the token endpoint's Date header.
const (
	clockWarnSkew = 30 * time.Second
	// clockFailSkew: LINE WORKS documents no tolerance for the assertion's iat/exp (which
	// span at most an hour); beyond a few minutes, expect rejected assertions.
	clockFailSkew = 5 * time.Minute
)

// doctorProbeKey is a key doctor reads to see whether the keyring answers and is unlocked;
// it is never written.
const doctorProbeKey = "doctor/probe"

// checkLevel is the outcome of one check.
type checkLevel int

const (
	levelOK checkLevel = iota
	levelWarn
	levelFail
	levelSkip
)

func (l checkLevel) String() string {
	return [...]string{"ok", "warn", "FAIL", "skip"}[l]
}

// checkResult is one line of doctor's report.
type checkResult struct {
	name  string
	level checkLevel
	msg   string
	fix   string // a concrete next step; for warn and FAIL
}

// serviceInfo is what doctor learns from the service manager.
type serviceInfo struct {
	unavailable *verbError // no per-user service manager here
	platform    string
	file        string
	state       svcState
	err         error
}

// doctor runs the checks; each dependency is a field so tests can break one link at a time.
type doctor struct {
	getenv     func(string) string
	uid        int
	cfgPath    string
	socket     string
	secrets    keystore.Secrets    // where the daemon started here would read secrets
	tokens     keystore.TokenCache // where it would cache tokens
	dir        *keystore.Dir       // the files mode's directory; nil otherwise
	httpClient *http.Client
	now        func() time.Time
	service    func(ctx context.Context) serviceInfo
	timeout    time.Duration // per keyring, daemon and HTTP call
	// checks replaces the default list of checks (the system service's: doctor_system.go).
	checks []func(context.Context) []checkResult

	// Filled in as the checks run.
	cfg      *config.Config
	daemon   *client.Status
	daemonEr error
	svc      *serviceInfo
	dateSeen []endpointDate
}

type endpointDate struct {
	host     string
	date     time.Time
	observed time.Time // local time at the middle of the request
}

type doctorOptions struct {
	config, socket string
	systemUser     string // doctor_system.go
	stores         storeOptions
}

func runDoctor(ctx context.Context, env *Env, args []string) int {
	o := doctorOptions{config: env.Getenv(config.EnvConfig), socket: env.Getenv(wire.EnvSocket)}
	fs := newFlags(env, "doctor", "doctor [--config FILE] [--socket PATH] [--credentials-dir DIR] | doctor --system-user USER", prog+" doctor")
	fs.StringVar(&o.config, "config", o.config, "config `file` (env "+config.EnvConfig+")")
	fs.StringVar(&o.socket, "socket", o.socket, "socket `path` (env "+wire.EnvSocket+"; default "+wire.DefaultSocketPath()+")")
	fs.StringVar(&o.systemUser, "system-user", "", "check the system service of this `user` (`install --system-user`); the default when run as a service user")
	bindStoreFlags(env, fs, &o.stores)
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	if t, ok := systemDoctorTarget(env, o); ok {
		return runSystemDoctor(ctx, env, t)
	}
	if o.config == "" {
		p, err := config.Path()
		if err != nil {
			errorf(env, "doctor: %v", err)
			return ExitError
		}
		o.config = p
	}
	if o.socket == "" {
		o.socket = wire.DefaultSocketPath()
	}
	o.stores.socket = o.socket
	st, err := chooseStores(env, o.stores)
	if err != nil {
		errorf(env, "doctor: %v", err)
		return ExitError
	}
	st, userCreds := withUserCredentials(st, o.stores, o.config)
	d := &doctor{
		getenv:  env.Getenv,
		uid:     os.Getuid(),
		cfgPath: o.config,
		socket:  o.socket,
		secrets: st.secrets,
		tokens:  st.tokens,
		dir:     st.dir,
		httpClient: &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		now:     time.Now,
		service: queryServiceInfo,
		timeout: 10 * time.Second,
	}
	if runtime.GOOS == "linux" {
		applyUserUnitProxy()
	}
	if userCreds {
		d.checks = []func(context.Context) []checkResult{
			d.checkConfig, d.checkStores, d.checkUserCredentials, d.checkSecrets, d.checkSocket, d.checkDaemon, d.checkService, d.checkEndpoint, d.checkClock,
		}
	}
	return d.run(ctx, env)
}

// queryServiceInfo asks the real service manager.
func queryServiceInfo(ctx context.Context) serviceInfo {
	h, verr := openService(ctx, &Env{Getenv: os.Getenv}, serviceSpec{})
	if verr != nil {
		return serviceInfo{unavailable: verr}
	}
	st, err := h.state(ctx)
	return serviceInfo{platform: h.platform, file: h.file, state: st, err: err}
}

// run prints one line per check and a summary; the exit code is ExitError when a check failed.
func (d *doctor) run(ctx context.Context, env *Env) int {
	counts := map[checkLevel]int{}
	checks := d.checks
	if checks == nil {
		checks = []func(context.Context) []checkResult{
			d.checkConfig, d.checkStores, d.checkKeyring, d.checkSecrets, d.checkSocket, d.checkDaemon, d.checkService, d.checkEndpoint, d.checkClock,
		}
	}
	for _, check := range checks {
		for _, r := range check(ctx) {
			counts[r.level]++
			line := fmt.Sprintf("%-4s  %-9s %s", r.level, r.name, cli.OneLine(r.msg))
			if r.fix != "" && (r.level == levelFail || r.level == levelWarn) {
				line += "; fix: " + cli.OneLine(r.fix)
			}
			fmt.Fprintln(env.Stdout, line)
		}
	}
	fmt.Fprintf(env.Stdout, "%s doctor: %d ok, %s, %d failed\n", prog, counts[levelOK], plural(counts[levelWarn], "warning"), counts[levelFail])
	if counts[levelFail] > 0 {
		return ExitError
	}
	return ExitOK
}

func (d *doctor) one(name string, level checkLevel, msg, fix string) []checkResult {
	return []checkResult{{name: name, level: level, msg: msg, fix: fix}}
}

// ---- config

func (d *doctor) checkConfig(context.Context) []checkResult {
	setup := "`" + prog + " setup --profile default --client-id ID --service-account SA --scope SCOPES --private-key-file FILE` (see `" + prog + " setup -h`)"
	cfg, err := config.LoadTrusted(d.cfgPath, d.uid)
	var unsafe *config.UnsafeError
	switch {
	case errors.Is(err, config.ErrNotFound):
		return d.one("config", levelFail, "no config file at "+d.cfgPath, "run "+setup)
	case errors.As(err, &unsafe):
		return d.one("config", levelFail, err.Error()+"; the daemon refuses it, since its auth_url decides where the client secret goes",
			unsafe.Fix+", then `"+prog+" restart` (or send the daemon SIGHUP)")
	case err != nil:
		return d.one("config", levelFail, err.Error(), "fix or remove "+d.cfgPath+" (it holds no secrets), then rerun setup")
	}
	d.cfg = cfg
	names := cfg.Names()
	if len(names) == 0 {
		return d.one("config", levelFail, d.cfgPath+" has no profile", "run "+setup)
	}
	msg := fmt.Sprintf("%s: %s", d.cfgPath, profileList(names))
	if def := cfg.Default(); def != "" {
		return d.one("config", levelOK, msg+"; default profile "+def, "")
	}
	return d.one("config", levelWarn, msg+", none of them the default",
		"set default_profile in the config, or `"+prog+" setup --profile NAME --default`; until then clients must pass --profile")
}

// ---- secret source, token cache, keyring and secrets

// checkStores says where a daemon started here reads secrets from and caches tokens, and
// where the running daemon does, when that differs.
func (d *doctor) checkStores(ctx context.Context) []checkResult {
	msg := "secrets from " + d.secrets.Describe() + "; tokens cached in " + d.tokens.Describe()
	if st := d.daemonStatus(ctx); st != nil && st.SecretSource != "" &&
		(st.SecretSource != d.secrets.Describe() || st.TokenCache != d.tokens.Describe()) {
		msg += "; the running daemon: secrets from " + st.SecretSource + ", tokens cached in " + st.TokenCache
	}
	return d.one("stores", levelOK, msg, "")
}

func (d *doctor) checkKeyring(ctx context.Context) []checkResult {
	_, secretsInKeyring := d.secrets.(*keystore.Keyring)
	_, tokensInKeyring := d.tokens.(*keystore.Keyring)
	if !secretsInKeyring && !tokensInKeyring && d.dir != nil {
		return d.one("keyring", levelSkip, "not used (secrets from "+d.dir.Describe()+")", "")
	}
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	_, err := d.secrets.Get(cctx, doctorProbeKey)
	if err == nil || errors.Is(err, keystore.ErrNotFound) {
		return d.one("keyring", levelOK, "reachable and unlocked", "")
	}
	fix := keystore.Hint(err)
	if fix == "" {
		fix = "check that a Secret Service (gnome-keyring, KeePassXC) runs in your session"
	}
	// Only the daemon and setup need the keyring: from a context without a session bus
	// (cron, a bare ssh session) a daemon that reaches it is what matters.
	if st := d.daemonStatus(ctx); st != nil && st.Keyring == client.KeyringOK {
		return d.one("keyring", levelWarn, "not reachable from here ("+err.Error()+"), but the running daemon reaches it",
			"run setup from a session that reaches the keyring; "+fix)
	}
	return d.one("keyring", levelFail, err.Error(), fix)
}

func (d *doctor) checkSecrets(ctx context.Context) []checkResult {
	if d.cfg == nil || len(d.cfg.Profiles) == 0 {
		return d.one("secrets", levelSkip, "no profile to check", "")
	}
	var out []checkResult
	for _, name := range d.cfg.Names() {
		out = append(out, d.checkProfileSecrets(ctx, name))
	}
	return out
}

func (d *doctor) checkProfileSecrets(ctx context.Context, name string) checkResult {
	r := checkResult{name: "secrets", level: levelFail}
	redo := fmt.Sprintf("`%s setup --profile %s --private-key-file FILE --client-secret-file FILE`", prog, name)
	get := func(key string) ([]byte, error) {
		cctx, cancel := context.WithTimeout(ctx, d.timeout)
		defer cancel()
		return d.secrets.Get(cctx, key)
	}
	var fe *keystore.FileError
	keyPEM, err := get(keystore.PrivateKeyKey(name))
	switch {
	case errors.As(err, &fe):
		r.msg, r.fix = fmt.Sprintf("profile %s: %v", name, fe), fe.Hint
		return r
	case errors.Is(err, keystore.ErrNotFound):
		r.msg, r.fix = fmt.Sprintf("profile %s: no private key in the keyring", name), "store it with "+redo
		return r
	case err != nil:
		r.msg, r.fix = fmt.Sprintf("profile %s: cannot read the private key: %v", name, err), keystore.Hint(err)
		return r
	}
	key, err := lwauth.ParsePrivateKey(keyPEM)
	clear(keyPEM)
	if err != nil {
		r.msg, r.fix = fmt.Sprintf("profile %s: the stored private key is unusable: %v", name, err),
			"store the .key file from the developer console again with "+redo
		if d.dir != nil {
			r.msg, r.fix = fmt.Sprintf("profile %s: secret file %s: not a usable private key: %v", name, d.dir.Locate(keystore.PrivateKeyKey(name)), err),
				"put the PEM private key from the developer console (the .key file) there"
		}
		return r
	}
	cs, err := get(keystore.ClientSecretKey(name))
	switch {
	case errors.As(err, &fe):
		r.msg, r.fix = fmt.Sprintf("profile %s: %v", name, fe), fe.Hint
		return r
	case errors.Is(err, keystore.ErrNotFound):
		r.msg, r.fix = fmt.Sprintf("profile %s: no client secret in the keyring", name), "store it with "+redo
		return r
	case err != nil:
		r.msg, r.fix = fmt.Sprintf("profile %s: cannot read the client secret: %v", name, err), keystore.Hint(err)
		return r
	case strings.TrimSpace(string(cs)) == "":
		r.msg, r.fix = fmt.Sprintf("profile %s: the stored client secret is empty", name), "store it with "+redo
		return r
	}
	clear(cs)
	r.level = levelOK
	r.msg = fmt.Sprintf("profile %s: private key (RSA-%d) and client secret present", name, key.N.BitLen())
	if d.dir != nil {
		r.msg = fmt.Sprintf("profile %s: private key (RSA-%d) and client secret present in %s", name, key.N.BitLen(), d.dir.Path())
		if ws := d.dir.Inspect(name); len(ws) > 0 {
			r.level = levelWarn
			r.msg += "; " + strings.Join(ws, "; ")
			r.fix = "let only the daemon's user read them: a Kubernetes Secret volume's defaultMode 0440 (or 0400) with the pod's fsGroup or runAsUser, or `chmod o-r` the files"
		}
	}
	return r
}

// ---- socket

func (d *doctor) checkSocket(ctx context.Context) []checkResult {
	sock := d.socket
	if len(sock) > wire.MaxSocketPath {
		return d.one("socket", levelFail, fmt.Sprintf("%s is %d bytes, longer than a unix socket path may be (%d)", sock, len(sock), wire.MaxSocketPath),
			"set "+wire.EnvSocket+" to a shorter path")
	}
	if !filepath.IsAbs(sock) {
		return d.one("socket", levelFail, sock+" is not an absolute path", "set "+wire.EnvSocket+" to an absolute path")
	}
	if x := d.getenv("XDG_RUNTIME_DIR"); x != "" && d.getenv(wire.EnvSocket) == "" {
		if uid, ok := ownerOf(x); ok && uid != d.uid {
			return d.one("socket", levelFail, fmt.Sprintf("XDG_RUNTIME_DIR=%s belongs to uid %d, not to you (uid %d): clients here look for the daemon in another user's directory", x, uid, d.uid),
				fmt.Sprintf("switch users with a login (`su -l`, `machinectl shell`), or set XDG_RUNTIME_DIR=/run/user/%d", d.uid))
		}
	}
	dir := filepath.Dir(sock)
	// The daemon's own rule (daemon.CheckSocketDir): what it refuses, doctor fails.
	err := daemon.CheckSocketDir(dir)
	var dirErr *daemon.SocketDirError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// The daemon creates it; nothing answers yet (the daemon check says so).
	case errors.As(err, &dirErr):
		return d.one("socket", levelFail, dirErr.Error(), dirErr.Fix)
	case err != nil:
		return d.one("socket", levelFail, err.Error(), "fix the permissions of "+filepath.Dir(dir))
	default:
		if fi, err := os.Lstat(sock); err == nil && fi.Mode().Type() != fs.ModeSocket {
			return d.one("socket", levelFail, sock+" exists and is not a socket", "remove it: rm "+sock)
		}
	}
	// The service must listen where clients in this context look.
	if svc := d.serviceInfo(ctx); svc.unavailable == nil && svc.state.installed {
		if want, ok := installedSocket(svc.platform, svc.file, d.uid); ok && want != sock {
			return d.one("socket", levelFail, fmt.Sprintf("the installed service listens on %s, but clients here look at %s", want, sock),
				fmt.Sprintf("set %s=%s here, or reinstall with the default: `%s install`", wire.EnvSocket, want, prog))
		}
	}
	if err != nil {
		return d.one("socket", levelOK, sock+" (its directory does not exist yet; the daemon creates it)", "")
	}
	return d.one("socket", levelOK, sock+" (directory private and yours)", "")
}

var (
	unitSocketArg  = regexp.MustCompile(`(?m)^ExecStart=.*"--socket" "([^"]*)"`)
	plistSocketArg = regexp.MustCompile(`<string>--socket</string>\s*<string>([^<]*)</string>`)
)

// installedSocket reads the --socket argument from an installed unit file or plist,
// resolving systemd's %t the way a user manager does.
func installedSocket(platform, file string, uid int) (string, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", false
	}
	if platform == platformLaunchd {
		m := plistSocketArg.FindSubmatch(b)
		if m == nil {
			return "", false
		}
		return html.UnescapeString(string(m[1])), true
	}
	m := unitSocketArg.FindSubmatch(b)
	if m == nil {
		return "", false
	}
	s := strings.ReplaceAll(string(m[1]), "%t", fmt.Sprintf("/run/user/%d", uid))
	return strings.ReplaceAll(s, "%%", "%"), true
}

// ---- daemon and service

func (d *doctor) daemonStatus(ctx context.Context) *client.Status {
	if d.daemon == nil && d.daemonEr == nil {
		c := client.Client{SocketPath: d.socket, Timeout: d.timeout}
		d.daemon, d.daemonEr = c.Status(ctx)
	}
	return d.daemon
}

func (d *doctor) serviceInfo(ctx context.Context) serviceInfo {
	if d.svc == nil {
		s := d.service(ctx)
		d.svc = &s
	}
	return *d.svc
}

func (d *doctor) checkDaemon(ctx context.Context) []checkResult {
	st := d.daemonStatus(ctx)
	if st == nil {
		fix := "start it: `" + prog + " start` (installed service) or `" + prog + " run`"
		if svc := d.serviceInfo(ctx); svc.unavailable == nil && !svc.state.installed {
			fix = "install and start the service: `" + prog + " install && " + prog + " start` (or run `" + prog + " run`)"
		}
		return d.one("daemon", levelFail, "no daemon answers: "+d.daemonEr.Error(), fix)
	}
	valid := 0
	var out []checkResult
	for _, e := range st.Entries {
		if e.State == client.StateValid {
			valid++
		}
		switch e.Health {
		case client.HealthRejected:
			redo := fmt.Sprintf("`%s setup --profile %s ...`", prog, e.Profile)
			if d.dir != nil {
				redo = fmt.Sprintf("correct the config or the files %s and %s (the daemon picks changed files up without a restart)",
					d.dir.Locate(keystore.PrivateKeyKey(e.Profile)), d.dir.Locate(keystore.ClientSecretKey(e.Profile)))
			}
			out = append(out, checkResult{name: "tokens", level: levelFail,
				msg: fmt.Sprintf("profile %s: line works rejects the credentials: %s", e.Profile, e.LastError),
				fix: "check the client id, secret, service account and key in the developer console, then " + redo})
		case client.HealthRetrying:
			out = append(out, checkResult{name: "tokens", level: levelWarn,
				msg: fmt.Sprintf("profile %s: token requests are failing (%d in a row): %s", e.Profile, e.ConsecutiveFailures, e.LastError),
				fix: "the daemon retries with backoff; see the endpoint check below and the daemon's log"})
		}
	}
	msg := fmt.Sprintf("pid %d answers on %s (%s valid)", st.PID, st.Socket, plural(valid, "token"))
	if st.Keyring != client.KeyringOK {
		out = append([]checkResult{{name: "daemon", level: levelWarn, msg: msg + "; its last keyring call failed: " + st.Keyring,
			fix: "unlock the keyring in the daemon's session; it keeps serving what it holds in memory"}}, out...)
		return out
	}
	return append([]checkResult{{name: "daemon", level: levelOK, msg: msg}}, out...)
}

func (d *doctor) checkService(ctx context.Context) []checkResult {
	if d.dir != nil {
		// A container runtime, kubelet or a system unit runs the daemon in the files mode.
		return d.one("service", levelSkip, "not checked in the files mode (whatever starts `"+prog+" run --credentials-dir` restarts it)", "")
	}
	svc := d.serviceInfo(ctx)
	running := d.daemonStatus(ctx) != nil
	switch {
	case svc.unavailable != nil:
		msg := "no per-user service manager: " + svc.unavailable.msg
		if running {
			return d.one("service", levelWarn, msg, "the daemon runs, but nothing restarts it: start it from your session's autostart with `"+prog+" run`")
		}
		return d.one("service", levelFail, msg, "start the daemon with `"+prog+" run`")
	}
	see, logs := "`systemctl --user status "+serviceName+"`", "`journalctl --user -u "+serviceName+"`"
	if svc.platform == platformLaunchd {
		see = fmt.Sprintf("`launchctl print gui/%d/%s`", d.uid, launchdLabel)
		logs = "~/Library/Logs/" + launchdLogName
	}
	if svc.err != nil {
		return d.one("service", levelFail, svc.err.Error(), "see "+see)
	}
	st := svc.state
	where := svc.file
	switch {
	case st.running:
		msg := "running (" + where + ")"
		if st.mainPID > 0 {
			msg = fmt.Sprintf("running, pid %d, %d automatic restarts (%s)", st.mainPID, st.restarts, where)
		}
		return d.one("service", levelOK, msg, "")
	case st.failed:
		return d.one("service", levelFail, "failed ("+where+")", "read "+logs+", fix the cause, then `"+prog+" restart`")
	case st.installed:
		return d.one("service", levelFail, "installed but not running ("+where+")", "`"+prog+" start`")
	case running:
		return d.one("service", levelWarn, "not installed: the daemon was started by hand and will not come back after a crash or reboot", "`"+prog+" install && "+prog+" restart`")
	}
	return d.one("service", levelFail, "not installed", "`"+prog+" install && "+prog+" start`")
}

// ---- token endpoint and clock

func (d *doctor) checkEndpoint(ctx context.Context) []checkResult {
	if d.cfg == nil || len(d.cfg.Profiles) == 0 {
		return d.one("endpoint", levelSkip, "no profile to check", "")
	}
	var urls []string
	for _, name := range d.cfg.Names() {
		if u := d.cfg.Profiles[name].AuthURLOrDefault(); !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	var out []checkResult
	for _, u := range urls {
		out = append(out, d.probeEndpoint(ctx, u))
	}
	return out
}

// probeEndpoint sends HEAD to the auth URL: any HTTP answer means it is reachable.
func (d *doctor) probeEndpoint(ctx context.Context, url string) checkResult {
	r := checkResult{name: "endpoint"}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		r.level, r.msg, r.fix = levelFail, fmt.Sprintf("%s: %v", url, err), "fix auth_url in "+d.cfgPath
		return r
	}
	start := d.now()
	resp, err := d.httpClient.Do(req)
	end := d.now()
	if err != nil {
		r.level, r.msg = levelFail, fmt.Sprintf("cannot reach %s: %v", url, err)
		r.fix = "check the network, DNS and any proxy (HTTPS_PROXY) from this machine; a TLS error behind an intercepting proxy needs its CA installed"
		return r
	}
	resp.Body.Close()
	if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		d.dateSeen = append(d.dateSeen, endpointDate{host: req.URL.Host, date: t, observed: start.Add(end.Sub(start) / 2)})
	}
	r.level, r.msg = levelOK, fmt.Sprintf("%s answers (HTTP %d in %s)", url, resp.StatusCode, end.Sub(start).Round(time.Millisecond))
	return r
}

func (d *doctor) checkClock(context.Context) []checkResult {
	if len(d.dateSeen) == 0 {
		return d.one("clock", levelSkip, "not compared: no token endpoint answered with a Date header", "")
	}
	e := d.dateSeen[0]
	// Date has whole seconds: up to a second of the difference is rounding.
	skew := e.observed.Sub(e.date)
	abs := skew.Abs()
	if abs > time.Second {
		abs -= time.Second
	} else {
		abs = 0
	}
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	msg := fmt.Sprintf("%s %s %s's clock", abs.Round(time.Second), dir, e.host)
	fix := "synchronize the clock (e.g. `timedatectl set-ntp true`, or enable network time in the system settings)"
	switch {
	case abs > clockFailSkew:
		return d.one("clock", levelFail, msg+": line works will likely reject the token requests' assertions", fix)
	case abs > clockWarnSkew:
		return d.one("clock", levelWarn, msg, fix)
	}
	return d.one("clock", levelOK, fmt.Sprintf("within %s of %s's clock", clockWarnSkew, e.host), "")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
