package daemoncli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// ExitNoServiceManager is the exit code of install, uninstall, start, stop, restart and
// status where no per-user service manager can be used (no systemd user manager, or a
// platform without one): the daemon must then be started with `lwtoken-helperd run`.
const ExitNoServiceManager = 7

// Timeouts of the service verbs.
const (
	systemctlTimeout = 30 * time.Second // a start waits for READY=1
	readyTimeout     = 10 * time.Second // how long start waits for the daemon to answer
)

// noopProgram satisfies kardianos/service's Interface. lwtoken-helperd uses the package only
// to install and control the service; the service itself runs `lwtoken-helperd run`.
type noopProgram struct{}

func (noopProgram) Start(service.Service) error { return nil }
func (noopProgram) Stop(service.Service) error  { return nil }

// verbError is a failure of a service verb: one line, a hint, an exit code.
type verbError struct {
	code      int
	msg, hint string
	hint2     string // an optional second hint line
}

func (e *verbError) report(env *Env, verb string) int {
	errorf(env, "%s: %s", verb, e.msg)
	if e.hint != "" {
		hintf(env, "%s", e.hint)
	}
	if e.hint2 != "" {
		hintf(env, "%s", e.hint2)
	}
	return e.code
}

// svcHandle is the service of this user on this machine's service manager.
type svcHandle struct {
	platform string
	home     string
	file     string // the unit file or plist
	svc      service.Service
	// launchctl drives the launchd agent (nil on systemd).
	launchctl *launchctl
}

// openService finds the per-user service manager and returns a handle for spec (only
// install needs a full spec; the other verbs need the name). It fails with
// ExitNoServiceManager when there is none to use.
func openService(ctx context.Context, env *Env, spec serviceSpec) (*svcHandle, *verbError) {
	return openServiceIn(ctx, env, spec, true)
}

// openServiceIn is openService; with needDomain false (install, which only writes the
// plist that launchd loads at the next GUI login) it does not require a launchd GUI domain.
func openServiceIn(ctx context.Context, env *Env, spec serviceSpec, needDomain bool) (*svcHandle, *verbError) {
	platform := service.Platform()
	switch platform {
	case platformSystemd:
		if out, err := systemctlUser(ctx, "show", "--property=Version"); err != nil {
			return nil, noUserManager(env, out, err)
		}
	case platformLaunchd:
	default:
		e := &verbError{code: ExitNoServiceManager, hint: "start the daemon with `" + prog + " run` (for example from your session's autostart)"}
		if platform == "" || strings.HasPrefix(platform, "linux-") || strings.HasPrefix(platform, "unix-") {
			e.msg = fmt.Sprintf("user services need systemd --user, and systemd is not running here (service manager: %s)", orNone(platform))
		} else {
			e.msg = fmt.Sprintf("user services are supported with systemd --user and launchd only, not with %s", orNone(platform))
		}
		return nil, e
	}
	home, err := serviceHome(platform)
	if err != nil {
		return nil, &verbError{code: ExitError, msg: err.Error(), hint: "set HOME"}
	}
	h := &svcHandle{platform: platform, home: home, file: serviceFile(platform, home)}
	if platform == platformLaunchd {
		h.launchctl = &launchctl{uid: os.Getuid(), label: launchdLabel, plist: h.file, run: runLaunchctl}
		if err := h.launchctl.checkDomain(ctx); errors.Is(err, errNoGUIDomain) {
			if needDomain {
				return nil, noGUIDomain(err)
			}
		} else if err != nil {
			return nil, &verbError{code: ExitNoServiceManager, msg: lower(err.Error()), hint2: "without a service manager, start the daemon with `" + prog + " run`"}
		}
	}
	if verr := h.open(spec); verr != nil {
		return nil, verr
	}
	return h, nil
}

// open makes h.svc the service for spec: kardianos/service's, with launchctl's modern verbs
// on launchd.
func (h *svcHandle) open(spec serviceSpec) *verbError {
	s, err := service.New(noopProgram{}, serviceConfig(h.platform, spec, h.home))
	if err != nil {
		return &verbError{code: ExitError, msg: "service manager: " + lower(err.Error())}
	}
	if h.launchctl != nil {
		s = &launchdService{Service: s, ctl: h.launchctl}
	}
	h.svc = s
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// noUserManager explains why `systemctl --user` failed.
func noUserManager(env *Env, out []byte, err error) *verbError {
	reason := firstLine(out)
	if reason == "" {
		reason = err.Error()
	}
	e := &verbError{code: ExitNoServiceManager, msg: "cannot reach your systemd user manager: " + lower(reason)}
	switch {
	case os.Getuid() == 0 && env.Getenv("SUDO_USER") != "":
		e.hint = "run this as the user the daemon serves, not with sudo: a user service belongs to one user"
	case env.Getenv("XDG_RUNTIME_DIR") == "":
		e.hint = fmt.Sprintf("XDG_RUNTIME_DIR is not set: log in as this user (ssh, `su -l`, `machinectl shell USER@`) or set XDG_RUNTIME_DIR=/run/user/%d", os.Getuid())
	default:
		e.hint = "is a user manager running for you? `loginctl enable-linger` starts one at boot"
	}
	e.hint2 = "without a service manager, start the daemon with `" + prog + " run`"
	return e
}

// systemctlUser runs `systemctl --user ARGS` and returns its combined output.
func systemctlUser(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemctl", append([]string{"--user", "--no-pager"}, args...)...)
	return cmd.CombinedOutput()
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// lower makes an error text from a library start in lower case.
func lower(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// svcState is what the service manager says about the service.
type svcState struct {
	installed bool
	running   bool
	failed    bool
	// From systemd only: the main PID, automatic restarts and the daemon's STATUS= line.
	mainPID   int
	restarts  int
	statusMsg string
}

func (s svcState) String() string {
	switch {
	case s.running:
		return "running"
	case s.failed:
		return "failed"
	case s.installed:
		return "stopped"
	}
	return "not installed"
}

// state asks the service manager (kardianos/service's Status) and, on systemd, adds the
// main PID, restart count and status line.
func (h *svcHandle) state(ctx context.Context) (svcState, error) {
	var st svcState
	s, err := h.svc.Status()
	switch {
	case err == nil && s == service.StatusRunning:
		st.installed, st.running = true, true
	case err == nil && s == service.StatusStopped:
		st.installed = true
	case errors.Is(err, service.ErrNotInstalled):
		if _, serr := os.Stat(h.file); serr == nil {
			st.installed = true // on disk, unknown to the manager until reloaded
		}
	case err != nil && strings.Contains(err.Error(), "failed state"):
		st.installed, st.failed = true, true
	default:
		if err == nil {
			err = fmt.Errorf("unknown service status %d", s)
		}
		return st, fmt.Errorf("service status: %s", lower(err.Error()))
	}
	if h.launchctl != nil && st.installed {
		if in, err := h.launchctl.info(ctx); err == nil && in.loaded {
			st.mainPID, st.restarts = in.pid, max(in.runs-1, 0)
			// KeepAlive SuccessfulExit=false leaves the agent down after exit 0, which run
			// uses under launchd for fatal errors (see launchdPlist).
			st.failed = !in.running && in.lastExit >= 0
			if in.lastExit > 0 {
				st.statusMsg = fmt.Sprintf("last exit status %d", in.lastExit)
			}
		}
	}
	if h.platform == platformSystemd && st.installed {
		out, err := systemctlUser(ctx, "show", "--property=MainPID,NRestarts,StatusText", serviceName+".service")
		if err == nil {
			for _, line := range strings.Split(string(out), "\n") {
				k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
				switch k {
				case "MainPID":
					st.mainPID, _ = strconv.Atoi(v)
				case "NRestarts":
					st.restarts, _ = strconv.Atoi(v)
				case "StatusText":
					st.statusMsg = v
				}
			}
		}
	}
	return st, nil
}

func (h *svcHandle) kind() string {
	if h.platform == platformLaunchd {
		return "launchd agent"
	}
	return "systemd user unit"
}

// logsHint says where the service's logs are.
func (h *svcHandle) logsHint() string {
	if h.platform == platformLaunchd {
		return "its log: " + filepath.Join(h.home, "Library", "Logs", launchdLogName)
	}
	return "its logs: `journalctl --user -u " + serviceName + "`; its state: `systemctl --user status " + serviceName + "`"
}

// ---- install

type installOptions struct {
	socket, config, logLevel, executable string
	systemUser                           string // service_system.go
	httpsProxy, noProxy                  string
}

func runInstall(ctx context.Context, env *Env, args []string) int {
	o := installOptions{socket: env.Getenv(wire.EnvSocket), config: env.Getenv(config.EnvConfig), logLevel: envOr(env, EnvLogLevel, "info")}
	fs := newFlags(env, "install", "install [--socket PATH] [--config FILE] [--log-level LEVEL] [--executable PATH] [--https-proxy URL [--no-proxy LIST]] | install --system-user USER [...]",
		prog+" install && "+prog+" start")
	fs.StringVar(&o.socket, "socket", o.socket, "socket `path` the service listens on (env "+wire.EnvSocket+"; default: the path clients find by themselves)")
	fs.StringVar(&o.config, "config", o.config, "config `file` the service reads (env "+config.EnvConfig+"; default: the daemon's default)")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "the service's log level: debug, info, warn or error (env "+EnvLogLevel+")")
	fs.StringVar(&o.executable, "executable", "", "the lwtoken-helperd `binary` the service starts (default: this one)")
	fs.StringVar(&o.systemUser, "system-user", "", "as root: install the system service that runs as this `user` (after `setup --system-user`)")
	fs.StringVar(&o.httpsProxy, "https-proxy", "", "the service reaches LINE WORKS through this proxy `url` (HTTPS_PROXY in the unit)")
	fs.StringVar(&o.noProxy, "no-proxy", "", "comma-separated `hosts` the service reaches without the proxy (NO_PROXY in the unit)")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	if err := checkProxy(o.httpsProxy, o.noProxy); err != nil {
		errorf(env, "install: %v", err)
		hintf(env, "e.g. --https-proxy http://proxy.example.com:3128 --no-proxy localhost,.internal.example.com")
		return ExitUsage
	}
	switch strings.ToLower(o.logLevel) {
	case "debug", "info", "warn", "error":
		o.logLevel = strings.ToLower(o.logLevel)
	default:
		errorf(env, "install: unknown log level %q", o.logLevel)
		hintf(env, "use debug, info, warn or error")
		return ExitUsage
	}
	if o.systemUser != "" {
		return runSystemInstall(ctx, env, o)
	}
	exe, warning, err := resolveExecutable(o.executable)
	if err != nil {
		errorf(env, "install: %v", err)
		hintf(env, "install the binary first (e.g. `go install ./cmd/%s` or copy it to ~/.local/bin), then run its install, or pass --executable", prog)
		return ExitUsage
	}
	h, verr := openServiceIn(ctx, env, serviceSpec{}, false)
	if verr != nil {
		return verr.report(env, "install")
	}
	spec := serviceSpec{executable: exe, socket: o.socket, logLevel: o.logLevel, httpsProxy: o.httpsProxy, noProxy: o.noProxy}
	customSocket := spec.socket != ""
	if !customSocket {
		spec.socket = defaultServiceSocket(h.platform)
	} else if !filepath.IsAbs(spec.socket) || len(spec.socket) > wire.MaxSocketPath {
		errorf(env, "install: socket path %q must be absolute and at most %d bytes", spec.socket, wire.MaxSocketPath)
		return ExitUsage
	}
	if o.config != "" {
		if spec.config, err = filepath.Abs(o.config); err != nil {
			errorf(env, "install: config: %v", err)
			return ExitUsage
		}
	}
	for _, p := range []struct{ what, v string }{{"program path", exe}, {"config path", spec.config}} {
		if why := unsafeInUnit(p.v); why != "" {
			errorf(env, "install: the %s %q holds %s, which a service file cannot carry safely", p.what, p.v, why)
			hintf(env, "use a path without %% $ quotes or backslashes")
			return ExitUsage
		}
	}
	if customSocket {
		if why := unsafeInUnit(spec.socket); why != "" {
			errorf(env, "install: the socket path %q holds %s, which a service file cannot carry safely", spec.socket, why)
			hintf(env, "use a path without %% $ quotes or backslashes")
			return ExitUsage
		}
	}
	// Reopen with the full spec now that it is known.
	if verr := h.open(spec); verr != nil {
		return verr.report(env, "install")
	}

	if warning != "" {
		fmt.Fprintf(env.Stderr, "%s: warning: %s\n", prog, warning)
	}
	old, readErr := os.ReadFile(h.file)
	existed := readErr == nil
	backup := filepath.Join(filepath.Dir(h.file), "."+filepath.Base(h.file)+".old")
	if existed {
		if err := os.Rename(h.file, backup); err != nil {
			errorf(env, "install: %v", err)
			return ExitError
		}
	}
	if h.platform == platformLaunchd {
		os.MkdirAll(filepath.Join(h.home, "Library", "Logs"), 0o700)
	}
	if err := h.svc.Install(); err != nil {
		// Put back what was there: the previous file, or nothing.
		if existed {
			os.Rename(backup, h.file)
		} else {
			os.Remove(h.file)
		}
		errorf(env, "install: writing or enabling the %s %s failed: %s", h.kind(), h.file, lower(err.Error()))
		if h.platform == platformSystemd {
			hintf(env, "try `systemctl --user daemon-reload` and `systemctl --user enable %s`; nothing was changed", serviceName)
		} else {
			hintf(env, "nothing was changed")
		}
		return ExitError
	}
	if existed {
		os.Remove(backup)
	}
	now, _ := os.ReadFile(h.file)
	args0 := append([]string{exe}, serviceConfig(h.platform, spec, h.home).Arguments...)
	switch {
	case existed && bytes.Equal(old, now):
		fmt.Fprintf(env.Stdout, "the %s %s is already installed and up to date: nothing changed\n", h.kind(), h.file)
	case existed:
		fmt.Fprintf(env.Stdout, "updated the %s %s\n", h.kind(), h.file)
	default:
		fmt.Fprintf(env.Stdout, "installed the %s %s\n", h.kind(), h.file)
	}
	fmt.Fprintf(env.Stdout, "  runs:    %s\n", strings.Join(args0, " "))
	if h.platform == platformSystemd {
		fmt.Fprintf(env.Stdout, "  enabled: starts with your user manager (default.target); restarted 1 s after a crash\n")
	} else {
		fmt.Fprintf(env.Stdout, "  loaded at login (RunAtLoad), restarted at most every %d s after a crash (KeepAlive SuccessfulExit=false), not after a configuration error\n", launchdThrottle)
	}
	fmt.Fprintf(env.Stdout, "  %s\n", h.logsHint())
	st, _ := h.state(ctx)
	switch {
	case existed && !bytes.Equal(old, now) && st.running:
		fmt.Fprintf(env.Stdout, "the running service still uses the old settings: `%s restart` applies them\n", prog)
	case !st.running:
		fmt.Fprintf(env.Stdout, "start it now with `%s start`\n", prog)
	}
	if customSocket {
		fmt.Fprintf(env.Stdout, "note: clients look for the socket at %s unless told otherwise: set %s=%s for them too\n",
			wire.DefaultSocketPath(), wire.EnvSocket, spec.socket)
	}
	if h.platform == platformSystemd {
		if u, err := user.Current(); err == nil {
			if _, err := os.Stat(filepath.Join("/var/lib/systemd/linger", u.Username)); err != nil {
				fmt.Fprintf(env.Stdout, "note: lingering is off for %s, so the service runs only while you are logged in; "+
					"`loginctl enable-linger` keeps it running for cron jobs and after you log out\n", u.Username)
			}
		}
	}
	return ExitOK
}

// ---- uninstall

type uninstallOptions struct {
	purge, yes bool
	config     string
	socket     string
	systemUser string // service_system.go
}

func runUninstall(ctx context.Context, env *Env, args []string) int {
	o := uninstallOptions{config: env.Getenv(config.EnvConfig), socket: env.Getenv(wire.EnvSocket)}
	fs := newFlags(env, "uninstall", "uninstall [--system-user USER] [--purge [--yes]]", prog+" uninstall")
	fs.BoolVar(&o.purge, "purge", false, "also delete every profile's secrets and cached tokens from the keyring, and the config file (asks first)")
	fs.BoolVar(&o.yes, "yes", false, "with --purge: do not ask")
	fs.StringVar(&o.config, "config", o.config, "config `file` whose profiles --purge deletes (env "+config.EnvConfig+")")
	fs.StringVar(&o.systemUser, "system-user", "", "as root: remove the system service of this `user` (--purge: also its encrypted credentials and config)")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	if o.systemUser != "" {
		return runSystemUninstall(ctx, env, o)
	}
	h, verr := openService(ctx, env, serviceSpec{})
	if verr != nil {
		return verr.report(env, "uninstall")
	}
	var p *purgePlan
	if o.purge {
		var code int
		if p, code = planPurge(env, o); p == nil {
			return code
		}
	}
	if _, err := os.Stat(h.file); err != nil {
		fmt.Fprintf(env.Stdout, "no %s is installed (%s does not exist): nothing to remove\n", h.kind(), h.file)
	} else {
		h.svc.Stop() // not running is fine; a failure shows up in Uninstall
		if err := h.svc.Uninstall(); err != nil {
			if _, serr := os.Stat(h.file); serr == nil {
				errorf(env, "uninstall: removing the %s %s failed: %s", h.kind(), h.file, lower(err.Error()))
				hintf(env, "%s", h.logsHint())
				return ExitError
			}
			// The file is gone; only the manager's reload complained.
			fmt.Fprintf(env.Stderr, "%s: warning: the service manager reported: %s\n", prog, lower(err.Error()))
		}
		fmt.Fprintf(env.Stdout, "stopped and removed the %s %s\n", h.kind(), h.file)
	}
	if p == nil {
		cfg, _ := config.Path()
		if o.config != "" {
			cfg = o.config
		}
		fmt.Fprintf(env.Stdout, "kept your credentials in the keyring and your settings in %s (`%s uninstall --purge` removes them)\n", cfg, prog)
		return ExitOK
	}
	return p.run(ctx, env, o.socket)
}

// ---- start, stop, restart, status

func runStart(ctx context.Context, env *Env, args []string) int {
	return controlVerb(ctx, env, args, "start", "start the installed service and wait until the daemon answers")
}

func runStop(ctx context.Context, env *Env, args []string) int {
	return controlVerb(ctx, env, args, "stop", "stop the service (it starts again at the next login)")
}

func runRestart(ctx context.Context, env *Env, args []string) int {
	return controlVerb(ctx, env, args, "restart", "restart the service (applies a new install)")
}

func controlVerb(ctx context.Context, env *Env, args []string, verb, what string) int {
	fs := newFlags(env, verb, verb, "")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	h, verr := openService(ctx, env, serviceSpec{})
	if verr != nil {
		return verr.report(env, verb)
	}
	st, err := h.state(ctx)
	if err != nil {
		errorf(env, "%s: %v", verb, err)
		return ExitError
	}
	if !st.installed {
		errorf(env, "%s: the service is not installed", verb)
		hintf(env, "run `%s install` first, or start the daemon by hand with `%s run`", prog, prog)
		return ExitNotConfigured
	}
	switch verb {
	case "start":
		err = h.svc.Start()
	case "stop":
		err = h.svc.Stop()
	case "restart":
		err = h.svc.Restart()
	}
	if err != nil {
		errorf(env, "%s: the %s did not %s: %s", verb, h.kind(), verb, lower(err.Error()))
		hintf(env, "%s", h.logsHint())
		return ExitError
	}
	if verb == "stop" {
		fmt.Fprintf(env.Stdout, "stopped the %s %s\n", h.kind(), serviceNameFor(h))
		return ExitOK
	}
	c := client.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		s, err := c.Status(ctx)
		if err == nil {
			fmt.Fprintf(env.Stdout, "%sed the %s %s: daemon pid %d answers on %s\n", verb, h.kind(), serviceNameFor(h), s.PID, s.Socket)
			return ExitOK
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			errorf(env, "%s: the service was started but the daemon does not answer on %s: %v", verb, wire.DefaultSocketPath(), err)
			hintf(env, "%s; `%s doctor` checks the whole chain", h.logsHint(), prog)
			return ExitNoDaemon
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func serviceNameFor(h *svcHandle) string {
	if h.platform == platformLaunchd {
		return launchdLabel
	}
	return serviceName
}

func runServiceStatus(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "status", "status", "")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	h, verr := openService(ctx, env, serviceSpec{})
	if verr != nil {
		return verr.report(env, "status")
	}
	st, err := h.state(ctx)
	if err != nil {
		errorf(env, "status: %v", err)
		return ExitError
	}
	if !st.installed {
		fmt.Fprintf(env.Stdout, "service: not installed (no %s at %s)\n", h.kind(), h.file)
	} else {
		fmt.Fprintf(env.Stdout, "service: %s (%s %s)\n", st, h.kind(), h.file)
		if h.platform == platformSystemd || h.platform == platformLaunchd {
			var parts []string
			if st.mainPID > 0 {
				parts = append(parts, fmt.Sprintf("pid %d", st.mainPID))
			}
			parts = append(parts, fmt.Sprintf("%d automatic restarts", st.restarts))
			if st.statusMsg != "" {
				parts = append(parts, "status: "+st.statusMsg)
			}
			fmt.Fprintf(env.Stdout, "  %s\n", strings.Join(parts, ", "))
		}
	}
	c := client.Client{Timeout: 3 * time.Second}
	if s, err := c.Status(ctx); err == nil {
		valid := 0
		for _, e := range s.Entries {
			if e.State == client.StateValid {
				valid++
			}
		}
		fmt.Fprintf(env.Stdout, "daemon:  pid %d answers on %s (%s cached; `lwtoken-helper status` for details)\n", s.PID, s.Socket, plural(valid, "valid token"))
	} else {
		fmt.Fprintf(env.Stdout, "daemon:  not answering on %s\n", wire.DefaultSocketPath())
	}
	switch {
	case st.running:
		return ExitOK
	case !st.installed:
		hintf(env, "`%s install` then `%s start` installs it as a %s", prog, prog, h.kind())
		return ExitNotConfigured
	default:
		hintf(env, "`%s start` starts it; %s", prog, h.logsHint())
		return ExitNoDaemon
	}
}
