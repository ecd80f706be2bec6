package daemoncli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kardianos/service"
)

// forcedSystem is one of kardianos/service's real systems, detected whatever the host runs.
type forcedSystem struct{ service.System }

func (forcedSystem) Detect() bool { return true }

// fakeSystemctl puts a systemctl on PATH that records its calls in dir/calls and answers
// from files in dir: state (is-active's answer, default inactive), nobus (the user manager
// is unreachable). start, stop and restart update state.
const fakeSystemctl = `#!/bin/sh
dir=$FAKE_SYSTEMCTL_DIR
echo "$*" >>"$dir/calls"
if [ -e "$dir/nobus" ]; then echo "Failed to connect to bus: No medium found" >&2; exit 1; fi
state=$(cat "$dir/state" 2>/dev/null || echo inactive)
case " $* " in
*" show "*--property=Version*) echo Version=252 ;;
*" show "*) printf 'MainPID=4242\nNRestarts=2\nStatusText=1 token valid, next renewal 13:52\n' ;;
*" is-active "*) echo "$state"; [ "$state" = active ] ;;
*" list-unit-files "*) [ -e "$HOME/.config/systemd/user/lwtoken-helperd.service" ] && echo "lwtoken-helperd.service enabled enabled" ;;
*" start "* | *" restart "*) [ -e "$dir/startfails" ] && exit 1; echo active >"$dir/state" ;;
*" stop "*) echo inactive >"$dir/state" ;;
esac
exit 0
`

// systemdEnv makes the service verbs run against kardianos/service's real linux-systemd
// system with a fake systemctl and HOME in a temporary directory. It returns that directory
// (the fake's state) and HOME.
func systemdEnv(t *testing.T) (fake, home string) {
	t.Helper()
	var sys service.System
	for _, s := range service.AvailableSystems() {
		if s.String() == platformSystemd {
			sys = s
		}
	}
	if sys == nil {
		t.Fatal("kardianos/service has no linux-systemd system")
	}
	chooseSystem(t, forcedSystem{sys})
	fake, home = t.TempDir(), t.TempDir()
	bin := filepath.Join(fake, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":/usr/bin:/bin")
	t.Setenv("FAKE_SYSTEMCTL_DIR", fake)
	t.Setenv("HOME", home)
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	t.Setenv("LWTOKEN_HELPER_SOCKET", "")
	t.Setenv("LWTOKEN_HELPER_CONFIG", "")
	return fake, home
}

func calls(t *testing.T, fake string) string {
	b, _ := os.ReadFile(filepath.Join(fake, "calls"))
	return string(b)
}

func TestInstallUninstallSystemdUserUnit(t *testing.T) {
	fake, home := systemdEnv(t)
	exe := filepath.Join(home, "bin", "lwtoken-helperd")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	unit := filepath.Join(home, ".config", "systemd", "user", "lwtoken-helperd.service")

	code, out, errs := svcRun(t, "", "install", "--executable", exe)
	if code != ExitOK {
		t.Fatalf("install: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "installed the systemd user unit "+unit) ||
		!strings.Contains(out, "runs:    "+exe+" run --socket %t/lwtoken-helper/sock --log-level info") ||
		!strings.Contains(out, "start it now with `lwtoken-helperd start`") {
		t.Fatalf("install output:\n%s", out)
	}
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	content := string(b)
	wantExec := "ExecStart=" + exe + ` "run" "--socket" "%t/lwtoken-helper/sock" "--log-level" "info"`
	if !strings.Contains(content, "\n"+wantExec+"\n") || !strings.Contains(content, "\nDescription="+serviceDescription+"\n") {
		t.Fatalf("unit:\n%s", content)
	}
	if c := calls(t, fake); !strings.Contains(c, "enable --user lwtoken-helperd.service") || !strings.Contains(c, "daemon-reload --user") {
		t.Fatalf("systemctl calls:\n%s", c)
	}

	// Again: nothing changes.
	code, out, _ = svcRun(t, "", "install", "--executable", exe)
	if code != ExitOK || !strings.Contains(out, "is already installed and up to date: nothing changed") {
		t.Fatalf("second install: exit %d\n%s", code, out)
	}
	if b2, _ := os.ReadFile(unit); string(b2) != content {
		t.Fatal("second install changed the unit")
	}
	if entries, _ := os.ReadDir(filepath.Dir(unit)); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}

	// Other settings while it runs: updated, with a hint to restart.
	os.WriteFile(filepath.Join(fake, "state"), []byte("active\n"), 0o644)
	code, out, _ = svcRun(t, "", "install", "--executable", exe, "--log-level", "debug", "--config", "/home/x/lw.toml")
	if code != ExitOK || !strings.Contains(out, "updated the systemd user unit") || !strings.Contains(out, "`lwtoken-helperd restart` applies them") {
		t.Fatalf("changed install: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(unit); !strings.Contains(string(b), `"--log-level" "debug" "--config" "/home/x/lw.toml"`) {
		t.Fatalf("updated unit:\n%s", b)
	}

	// status: running, with what systemd knows.
	code, out, _ = svcRun(t, "", "status")
	if code != ExitOK || !strings.Contains(out, "service: running (systemd user unit "+unit+")") ||
		!strings.Contains(out, "pid 4242, 2 automatic restarts, status: 1 token valid, next renewal 13:52") ||
		!strings.Contains(out, "daemon:  not answering on /run/user/1000/lwtoken-helper/sock") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	// stop, then status says stopped (exit 3).
	if code, out, errs := svcRun(t, "", "stop"); code != ExitOK || !strings.Contains(out, "stopped the systemd user unit lwtoken-helperd") {
		t.Fatalf("stop: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := svcRun(t, "", "status"); code != ExitNoDaemon || !strings.Contains(out, "service: stopped") {
		t.Fatalf("status when stopped: exit %d\n%s", code, out)
	}
	// start that systemd refuses: one error line, a hint to the logs.
	os.WriteFile(filepath.Join(fake, "startfails"), nil, 0o644)
	code, _, errs = svcRun(t, "", "start")
	if code != ExitError {
		t.Fatalf("failing start: exit %d: %s", code, errs)
	}
	svcWantCLIError(t, errs, "start: the systemd user unit did not start")
	if !strings.Contains(errs, "journalctl --user -u lwtoken-helperd") {
		t.Fatalf("no pointer to the logs: %s", errs)
	}

	// uninstall, twice.
	code, out, _ = svcRun(t, "", "uninstall")
	if code != ExitOK || !strings.Contains(out, "stopped and removed the systemd user unit "+unit) || !strings.Contains(out, "kept your credentials") {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(unit); !os.IsNotExist(err) {
		t.Fatalf("unit still there: %v", err)
	}
	if c := calls(t, fake); !strings.Contains(c, "disable --user lwtoken-helperd.service") {
		t.Fatalf("not disabled:\n%s", c)
	}
	if code, out, _ := svcRun(t, "", "uninstall"); code != ExitOK || !strings.Contains(out, "nothing to remove") {
		t.Fatalf("second uninstall: exit %d\n%s", code, out)
	}
	if code, out, errs := svcRun(t, "", "status"); code != ExitNotConfigured || !strings.Contains(out, "service: not installed") {
		t.Fatalf("status when not installed: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := svcRun(t, "", "start"); code != ExitNotConfigured || !strings.Contains(errs, "start: the service is not installed") {
		t.Fatalf("start when not installed: exit %d\n%s", code, errs)
	}
}

func TestStartWaitsForTheDaemon(t *testing.T) {
	fake, home := systemdEnv(t)
	exe := filepath.Join(home, "lwtoken-helperd")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	if code, out, errs := svcRun(t, "", "install", "--executable", exe); code != ExitOK {
		t.Fatalf("install: %d %s%s", code, out, errs)
	}
	svcConfig(t)
	svcStore(t)
	sock := svcDaemon(t)
	code, out, errs := svcRun(t, "", "start")
	if code != ExitOK || !strings.Contains(out, "started the systemd user unit lwtoken-helperd: daemon pid ") || !strings.Contains(out, sock) {
		t.Fatalf("start: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(calls(t, fake), "start --user lwtoken-helperd.service") {
		t.Fatalf("systemctl calls:\n%s", calls(t, fake))
	}
	code, out, _ = svcRun(t, "", "restart")
	if code != ExitOK || !strings.Contains(out, "restarted the systemd user unit") {
		t.Fatalf("restart: exit %d\n%s", code, out)
	}
}

func TestUserManagerUnreachable(t *testing.T) {
	fake, _ := systemdEnv(t)
	os.WriteFile(filepath.Join(fake, "nobus"), nil, 0o644)
	t.Setenv("XDG_RUNTIME_DIR", "")
	code, out, errs := svcRun(t, "", "status")
	if code != ExitNoServiceManager || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	svcWantCLIError(t, errs, "status: cannot reach your systemd user manager: failed to connect to bus: No medium found")
	if !strings.Contains(errs, "XDG_RUNTIME_DIR is not set") || !strings.Contains(errs, "lwtoken-helperd run") {
		t.Fatalf("hints:\n%s", errs)
	}
}

func TestInstallCustomSocket(t *testing.T) {
	_, home := systemdEnv(t)
	exe := filepath.Join(home, "lwtoken-helperd")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	code, out, errs := svcRun(t, "", "install", "--executable", exe, "--socket", "/srv/lw/sock")
	if code != ExitOK || !strings.Contains(out, "note: clients look for the socket at /run/user/1000/lwtoken-helper/sock unless told otherwise: set LWTOKEN_HELPER_SOCKET=/srv/lw/sock") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = svcRun(t, "", "install", "--executable", exe, "--socket", "/srv/%h/sock")
	if code != ExitUsage {
		t.Fatalf("a %% in the socket path: exit %d", code)
	}
	svcWantCLIError(t, errs, "cannot carry safely")
	if code, _, errs := svcRun(t, "", "install", "--executable", exe, "--socket", "relative/sock"); code != ExitUsage || !strings.Contains(errs, "must be absolute") {
		t.Fatalf("relative socket: exit %d: %s", code, errs)
	}
}
