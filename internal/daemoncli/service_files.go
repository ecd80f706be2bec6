package daemoncli

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/kardianos/service"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// The service as the OS service manager knows it.
const (
	// serviceName names the systemd user unit (lwtoken-helperd.service).
	serviceName = "lwtoken-helperd"
	// launchdLabel names the launchd agent (~/Library/LaunchAgents/<label>.plist).
	launchdLabel       = "com.github.lwtoken-helper.lwtoken-helperd"
	serviceDescription = "lwtoken-helper daemon: LINE WORKS access tokens over a per-user socket"
	// systemdSocket is the socket path the unit passes: systemd expands %t to the user
	// manager's runtime directory, which is what XDG_RUNTIME_DIR is in the user's sessions
	// and /run/user/UID is for cron jobs and other units, so it is the path that
	// wire.DefaultSocketPath computes in every context (see docs/service.md).
	systemdSocket = "%t/lwtoken-helper/sock"
	// launchdLogName is the agent's log file under ~/Library/Logs.
	launchdLogName = "lwtoken-helper.log"
)

// Platforms of kardianos/service that run a per-user service.
const (
	platformSystemd = "linux-systemd"
	platformLaunchd = "darwin-launchd"
)

// sandboxDirectives are the hardening lines of the systemd user unit. Each was verified
// under a real systemd user manager by scripts/systemd-test.sh (the daemon starts, reaches
// the Secret Service over the session bus, serves tokens and is restarted after a crash).
// They are all enforced with seccomp or prctl and need no namespace, so they also work
// where unprivileged user namespaces are disabled. The mount-namespace ones (ProtectSystem,
// ProtectHome, PrivateTmp, ProtectKernel*, PrivateDevices, ...) are left out on purpose: a
// user manager can apply them only inside a user namespace (PrivateUsers=, implied from
// systemd 253; silently ignored by 252), and where user namespaces are disabled or
// restricted the unit then fails to start. docs/service.md lists what was tested.
var sandboxDirectives = []string{
	"NoNewPrivileges=yes",
	"LockPersonality=yes",
	"RestrictRealtime=yes",
	"RestrictSUIDSGID=yes",
	"RestrictNamespaces=yes",
	"MemoryDenyWriteExecute=yes",
	"SystemCallArchitectures=native",
	"SystemCallFilter=@system-service",
	"SystemCallErrorNumber=EPERM",
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
}

// systemdUnit returns the SystemdScript template: kardianos/service's own template engine
// fills in the description, the absolute executable path and the arguments (its keys have
// no leading dot). Everything else is fixed text, plus env: Environment= lines (the admin's
// proxy settings), already checked by checkProxy.
func systemdUnit(env ...string) string {
	var b strings.Builder
	b.WriteString(`# A systemd user unit written by ` + "`lwtoken-helperd install`" + `; remove it with ` + "`lwtoken-helperd uninstall`" + `.
# Edits are lost on the next install: use ` + "`systemctl --user edit " + serviceName + "`" + ` for a drop-in.
[Unit]
Description={{Description}}
# No start-rate limit: Restart= below always brings the daemon back.
StartLimitIntervalSec=0

[Service]
# The daemon sends READY=1 once its socket listens, and keeps STATUS= current.
Type=notify
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
ExecReload=kill -HUP $MAINPID
Restart=on-failure
RestartSec=1
# ` + fmt.Sprint(ExitDaemonUsage) + `: bad flags; ` + fmt.Sprint(ExitDaemonConfig) + `: invalid or unsafe configuration. Restarting cannot fix
# either; a crash (a panic or SIGQUIT/SIGABRT exits with 2) is restarted.
RestartPreventExitStatus=` + RestartPreventExitStatus() + `
TimeoutStopSec=15
UMask=0077
`)
	for _, e := range env {
		b.WriteString(e + "\n")
	}
	for _, d := range sandboxDirectives {
		b.WriteString(d + "\n")
	}
	b.WriteString(`
[Install]
WantedBy=default.target
`)
	return b.String()
}

// Settings of the launchd agent.
const (
	// launchdThrottle is launchd's ThrottleInterval: at most one start per this many seconds,
	// so a daemon that crashes at once cannot spin.
	launchdThrottle = 10
	// launchdLogMax bounds the agent's log file (run --log-max-size): past it the file moves
	// to NAME.1, replacing the previous one, so the log takes at most about twice this.
	launchdLogMax = 10 << 20
)

// launchdPlist returns the LaunchdConfig template for a log file at logPath (escaped here:
// it is fixed text to the template engine).
//
//   - KeepAlive restarts the daemon only when it did not exit successfully (SuccessfulExit
//     false): after a crash, a panic, a kill. launchd cannot tell exit statuses apart as
//     systemd's RestartPreventExitStatus does, so the agent runs `run --fatal-exit-status 0`:
//     the daemon's fatal usage and configuration errors (NoRestartExitCodes) exit 0 and the
//     agent stays down instead of looping. ThrottleInterval spaces the restarts.
//   - ProcessType Standard: Background would let macOS throttle the daemon's CPU and I/O
//     while it serves interactive tools.
//   - The daemon writes and rotates the log itself (run --log-file, --log-max-size); launchd's
//     StandardErrorPath, the same file, catches what comes before that (and a Go panic's
//     trace, which goes to stderr: run points its stderr at the file too).
func launchdPlist(logPath, httpsProxy, noProxy string) string {
	log := xmlEscape(logPath)
	var env strings.Builder
	if httpsProxy != "" || noProxy != "" {
		env.WriteString("\t<key>EnvironmentVariables</key>\n\t<dict>\n")
		for _, kv := range [][2]string{{"HTTPS_PROXY", httpsProxy}, {"NO_PROXY", noProxy}} {
			if kv[1] != "" {
				env.WriteString("\t\t<key>" + kv[0] + "</key>\n\t\t<string>" + xmlEscape(kv[1]) + "</string>\n")
			}
		}
		env.WriteString("\t</dict>\n")
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- A launchd agent written by ` + "`lwtoken-helperd install`" + `; remove it with ` + "`lwtoken-helperd uninstall`" + `. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{{Name | html}}</string>
	<key>ProgramArguments</key>
	<array>
		<string>{{Path | html}}</string>
{{range Arguments}}		<string>{{. | html}}</string>
{{end}}	</array>
` + env.String() + `	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>` + strconv.Itoa(launchdThrottle) + `</integer>
	<key>ProcessType</key>
	<string>Standard</string>
	<key>StandardOutPath</key>
	<string>` + log + `</string>
	<key>StandardErrorPath</key>
	<string>` + log + `</string>
</dict>
</plist>
`
}

var xmlEscaper = strings.NewReplacer(`&`, "&amp;", `'`, "&#39;", `<`, "&lt;", `>`, "&gt;", `"`, "&#34;")

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }

// serviceSpec is what install writes: the executable and the arguments of `run`.
type serviceSpec struct {
	executable string
	socket     string // as passed to run; may hold the systemd specifier %t
	config     string // "" : the daemon's default
	logLevel   string
	httpsProxy string // "" : none (HTTPS_PROXY in the unit)
	noProxy    string // "" : none (NO_PROXY in the unit)
	// logFile, for a launchd agent, is the log file the daemon writes and rotates itself;
	// with it, fatal errors exit 0 (see launchdPlist).
	logFile string
}

func (s serviceSpec) arguments() []string {
	args := []string{"run", "--socket", s.socket, "--log-level", s.logLevel}
	if s.config != "" {
		args = append(args, "--config", s.config)
	}
	if s.logFile != "" {
		args = append(args, "--log-file", s.logFile, "--log-max-size", strconv.Itoa(launchdLogMax), "--fatal-exit-status", "0")
	}
	return args
}

// serviceConfig is the kardianos/service configuration of the per-user service.
func serviceConfig(platform string, spec serviceSpec, home string) *service.Config {
	name := serviceName
	logFile := filepath.Join(home, "Library", "Logs", launchdLogName)
	if platform == platformLaunchd {
		name = launchdLabel
		spec.logFile = logFile
	}
	return &service.Config{
		Name:        name,
		DisplayName: serviceName,
		Description: serviceDescription,
		Executable:  spec.executable,
		Arguments:   spec.arguments(),
		Option: service.KeyValue{
			"UserService":   true,
			"SystemdScript": systemdUnit(strings.Fields(string(proxyEnvironment(spec.httpsProxy, spec.noProxy)))...),
			"LaunchdConfig": launchdPlist(logFile, spec.httpsProxy, spec.noProxy),
			"KeepAlive":     true,
			"RunAtLoad":     true,
		},
	}
}

// serviceFile returns where kardianos/service keeps the service file on platform (the
// same home directory it uses).
func serviceFile(platform, home string) string {
	if platform == platformLaunchd {
		return filepath.Join(home, "Library", "LaunchAgents", launchdLabel+".plist")
	}
	return filepath.Join(home, ".config", "systemd", "user", serviceName+".service")
}

// serviceHome is the home directory kardianos/service uses on platform: $HOME for
// systemd, the account's home for launchd.
func serviceHome(platform string) (string, error) {
	if platform == platformLaunchd {
		if u, err := user.Current(); err == nil && u.HomeDir != "" {
			return u.HomeDir, nil
		}
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory: %w", err)
	}
	return h, nil
}

// defaultServiceSocket is the socket path a service passes when none is chosen.
func defaultServiceSocket(platform string) string {
	if platform == platformSystemd {
		return systemdSocket
	}
	return filepath.Join(wire.DefaultSocketDir(), "sock")
}

// unsafeInUnit reports why s cannot be written into a unit file or plist as is ("" : it can).
// systemd would expand % (specifiers) and $ (variables) in ExecStart, and a quote or
// backslash would change the quoting.
func unsafeInUnit(s string) string {
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return "a control character"
		case r == '%' || r == '$' || r == '"' || r == '\\' || r == '\'':
			return fmt.Sprintf("%q", r)
		}
	}
	return ""
}

// resolveExecutable returns the absolute path a service should start: path if given,
// else this program. It refuses a temporary build (go run), which would vanish, and warns
// about a program in a temporary directory.
func resolveExecutable(path string) (abs, warning string, err error) {
	if path == "" {
		p, err := os.Executable()
		if err != nil {
			return "", "", fmt.Errorf("cannot find this program's path: %w", err)
		}
		path = p
	}
	if abs, err = filepath.Abs(path); err != nil {
		return "", "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", "", err
	}
	if fi.IsDir() || (runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0) {
		return "", "", fmt.Errorf("%s is not an executable file", abs)
	}
	if strings.Contains(abs, string(filepath.Separator)+"go-build") {
		return "", "", errors.New(abs + " is a temporary build (go run): it vanishes when the command ends")
	}
	for _, tmp := range []string{"/tmp/", "/var/tmp/", filepath.Clean(os.TempDir()) + string(filepath.Separator)} {
		if strings.HasPrefix(abs, tmp) {
			warning = abs + " is in a temporary directory: the service fails once it is cleaned up"
			break
		}
	}
	return abs, warning, nil
}
