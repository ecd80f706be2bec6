//go:build unix

package daemoncli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kardianos/service"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/daemontest"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// svcRun runs the CLI with args and returns exit code, stdout and stderr.
func svcRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: os.Getenv, StdinFd: -1}
	code := Main(context.Background(), env, args)
	return code, out.String(), errb.String()
}

// svcWantCLIError checks the one-line error plus hint shape of a failure.
func svcWantCLIError(t *testing.T, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "lwtoken-helperd: error: ") || !strings.HasPrefix(lines[1], "lwtoken-helperd: hint: ") {
		t.Fatalf("stderr is not an error line and a hint:\n%s", stderr)
	}
	if !strings.Contains(lines[0], want) {
		t.Fatalf("error line %q does not say %q", lines[0], want)
	}
	if lines[0] != strings.ToLower(lines[0][:30])+lines[0][30:] {
		t.Fatalf("error line not lower case: %q", lines[0])
	}
}

// stubSystem is a kardianos/service System with a given name that is always detected.
type stubSystem struct{ name string }

func (s stubSystem) String() string    { return s.name }
func (s stubSystem) Detect() bool      { return true }
func (s stubSystem) Interactive() bool { return true }
func (s stubSystem) New(service.Interface, *service.Config) (service.Service, error) {
	return nil, errors.New("stub system: no services")
}

// chooseSystem makes kardianos/service use sys until the test ends. It changes package
// globals: tests that call it must not run in parallel.
func chooseSystem(t *testing.T, sys service.System) {
	t.Helper()
	orig := service.AvailableSystems()
	service.ChooseSystem(sys)
	t.Cleanup(func() { service.ChooseSystem(orig...) })
}

func TestServiceVerbsWithoutServiceManager(t *testing.T) {
	chooseSystem(t, stubSystem{"unix-systemv"})
	exe := filepath.Join(t.TempDir(), "lwtoken-helperd")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	for _, verb := range [][]string{{"install", "--executable", exe}, {"uninstall"}, {"start"}, {"stop"}, {"restart"}, {"status"}} {
		code, stdout, stderr := svcRun(t, "", verb...)
		if code != ExitNoServiceManager || stdout != "" {
			t.Fatalf("%s: exit %d, stdout %q; want exit %d and nothing", verb[0], code, stdout, ExitNoServiceManager)
		}
		svcWantCLIError(t, stderr, verb[0]+": user services need systemd --user, and systemd is not running here (service manager: unix-systemv)")
		if !strings.Contains(stderr, "lwtoken-helperd run") {
			t.Fatalf("%s: the hint does not say how to start the daemon: %s", verb[0], stderr)
		}
	}
	chooseSystem(t, stubSystem{"windows-service"})
	code, _, stderr := svcRun(t, "", "status")
	if code != ExitNoServiceManager || !strings.Contains(stderr, "supported with systemd --user and launchd only") {
		t.Fatalf("windows: exit %d: %s", code, stderr)
	}
}

func TestInstallRefusesBadPaths(t *testing.T) {
	chooseSystem(t, stubSystem{"unix-systemv"})
	dir := t.TempDir()
	goRun := filepath.Join(dir, "go-build1234", "b001", "exe", "lwtoken-helperd")
	os.MkdirAll(filepath.Dir(goRun), 0o755)
	os.WriteFile(goRun, []byte("x"), 0o755)
	code, _, stderr := svcRun(t, "", "install", "--executable", goRun)
	if code != ExitUsage {
		t.Fatalf("go run binary: exit %d: %s", code, stderr)
	}
	svcWantCLIError(t, stderr, "is a temporary build (go run)")

	notExe := filepath.Join(dir, "plain")
	os.WriteFile(notExe, []byte("x"), 0o644)
	if code, _, stderr := svcRun(t, "", "install", "--executable", notExe); code != ExitUsage || !strings.Contains(stderr, "not an executable file") {
		t.Fatalf("non-executable: exit %d: %s", code, stderr)
	}
	if code, _, stderr := svcRun(t, "", "install", "--log-level", "loud"); code != ExitUsage || !strings.Contains(stderr, `unknown log level "loud"`) {
		t.Fatalf("bad log level: exit %d: %s", code, stderr)
	}
	if code, _, stderr := svcRun(t, "", "install", "extra"); code != ExitUsage || !strings.Contains(stderr, "unexpected argument") {
		t.Fatalf("extra argument: exit %d: %s", code, stderr)
	}
}

func TestUnsafeInUnit(t *testing.T) {
	for _, s := range []string{"/home/a/bin/lwtoken-helperd", "/opt/my tools/lwtoken-helperd", "%t/lwtoken-helper/sock"[2:]} {
		if why := unsafeInUnit(s); why != "" {
			t.Errorf("%q refused: %s", s, why)
		}
	}
	for _, s := range []string{"/home/a%b", "/home/$USER/x", `/a"b`, `/a\b`, "/a'b", "/a\nb", "/a\x7fb"} {
		if unsafeInUnit(s) == "" {
			t.Errorf("%q accepted", s)
		}
	}
}

// renderMini renders a template of kardianos/service's engine for the subset this
// package's templates use ({{Key}}, {{Key | fn}}, {{range Key}}...{{end}}, {{.}}), so that
// the launchd plist can be checked on any OS. Anything else is an error, so a template
// change that needs more is caught here.
func renderMini(tmpl string, data map[string]any, funcs map[string]func(string) string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		b.WriteString(tmpl[:i])
		j := strings.Index(tmpl[i:], "}}")
		if j < 0 {
			return "", errors.New("unclosed {{")
		}
		action := strings.TrimSpace(tmpl[i+2 : i+j])
		tmpl = tmpl[i+j+2:]
		if key, ok := strings.CutPrefix(action, "range "); ok {
			end := strings.Index(tmpl, "{{end}}")
			if end < 0 {
				return "", errors.New("range without end")
			}
			body := tmpl[:end]
			tmpl = tmpl[end+len("{{end}}"):]
			items, ok := data[strings.TrimSpace(key)].([]string)
			if !ok {
				return "", fmt.Errorf("range over %q: not a list", key)
			}
			for _, it := range items {
				d := map[string]any{".": it}
				for k, v := range data {
					d[k] = v
				}
				s, err := renderMini(body, d, funcs)
				if err != nil {
					return "", err
				}
				b.WriteString(s)
			}
			continue
		}
		parts := strings.Split(action, "|")
		v, ok := data[strings.TrimSpace(parts[0])].(string)
		if !ok {
			return "", fmt.Errorf("unknown or non-string key %q", parts[0])
		}
		for _, fn := range parts[1:] {
			f := funcs[strings.TrimSpace(fn)]
			if f == nil {
				return "", fmt.Errorf("unknown function %q", fn)
			}
			v = f(v)
		}
		b.WriteString(v)
	}
}

func installedSocketFrom(t *testing.T, platform, content string) (string, bool) {
	f := filepath.Join(t.TempDir(), "service-file")
	os.WriteFile(f, []byte(content), 0o644)
	return installedSocket(platform, f, 1000)
}

func TestSystemdUnitTemplate(t *testing.T) {
	unit := systemdUnit()
	for _, line := range []string{"Type=notify", "Restart=on-failure", "RestartSec=1", "StartLimitIntervalSec=0",
		"WantedBy=default.target", "ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}", "NoNewPrivileges=yes"} {
		if !strings.Contains(unit, "\n"+line+"\n") {
			t.Errorf("unit lacks %q", line)
		}
	}
	if regexp.MustCompile(`\{\{ *\.[A-Za-z]`).MatchString(unit) {
		t.Error("unit uses a dotted key, which kardianos/service's engine does not know")
	}
	for _, bad := range []string{"multi-user.target", "EnvironmentFile", "RestartSec=120", "PrivateUsers", "ProtectSystem"} {
		if strings.Contains(unit, bad) {
			t.Errorf("unit holds %q", bad)
		}
	}
	// Only the daemon's own fatal errors prevent a restart; a crash (a panic or a SIGQUIT
	// or SIGABRT dump exits with 2) and bad flags of other verbs' codes are restarted.
	if !strings.Contains(unit, "\nRestartPreventExitStatus=64 78\n") {
		t.Errorf("unit lacks RestartPreventExitStatus=64 78:\n%s", unit)
	}
	if slices.Contains(NoRestartExitCodes(), 2) || slices.Contains(NoRestartExitCodes(), ExitError) {
		t.Errorf("NoRestartExitCodes = %v holds the exit code of a crash", NoRestartExitCodes())
	}
	if got, ok := installedSocketFrom(t, platformSystemd, `ExecStart=/usr/bin/lwtoken-helperd "run" "--socket" "%t/lwtoken-helper/sock" "--log-level" "info"`+"\n"); !ok || got != "/run/user/1000/lwtoken-helper/sock" {
		t.Fatalf("socket from unit: %q %v", got, ok)
	}
}

// svcStore makes setup, purge and doctor use a memory keystore until the test ends.
func svcStore(t *testing.T) *keystore.Memory {
	t.Helper()
	m := keystore.NewMemory()
	orig := storeFor
	storeFor = func() keystore.Store { return m }
	t.Cleanup(func() { storeFor = orig })
	return m
}

// svcDaemon starts a real daemon (daemontest) and points LWTOKEN_HELPER_SOCKET at it.
func svcDaemon(t *testing.T) string {
	t.Helper()
	env, err := daemontest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	t.Setenv(wire.EnvSocket, env.Socket)
	return env.Socket
}

func svcConfig(t *testing.T, profiles ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	c := &config.Config{Profiles: map[string]*config.Profile{}}
	for _, name := range profiles {
		c.Profiles[name] = &config.Profile{ClientID: "cid-" + name, ServiceAccount: name + ".serviceaccount@example.com", Scopes: []string{"bot", "user.read"}}
	}
	if err := config.Save(p, c); err != nil {
		t.Fatal(err)
	}
	t.Setenv(config.EnvConfig, p)
	return p
}

func TestPurgeDeletesEverythingOfEveryProfile(t *testing.T) {
	ctx := context.Background()
	m := svcStore(t)
	cfg := svcConfig(t, "default", "ops")
	t.Setenv(wire.EnvSocket, filepath.Join(t.TempDir(), "no-daemon", "sock"))
	for _, p := range []string{"default", "ops"} {
		m.Set(ctx, keystore.PrivateKeyKey(p), []byte("k"))
		m.Set(ctx, keystore.ClientSecretKey(p), []byte("s"))
		m.Set(ctx, keystore.TokenKey(p, "bot user.read"), []byte("t"))
	}
	m.Set(ctx, keystore.PrivateKeyKey("unrelated"), []byte("k"))

	var out bytes.Buffer
	env := &Env{Stdin: strings.NewReader("y\n"), Stdout: &out, Stderr: &out, StdinFd: -1, Getenv: os.Getenv}
	if p, code := planPurge(env, uninstallOptions{purge: true, config: cfg}); p != nil || code != ExitUsage {
		t.Fatalf("without --yes and no terminal: plan %v, exit %d", p, code)
	}
	svcWantCLIError(t, out.String(), "--purge would revoke the tokens and delete the keyring secrets of profiles default, ops")
	out.Reset()
	p, code := planPurge(env, uninstallOptions{purge: true, yes: true, config: cfg})
	if p == nil || code != ExitOK {
		t.Fatalf("with --yes: exit %d: %s", code, out.String())
	}
	if code := p.run(ctx, env, ""); code != ExitOK {
		t.Fatalf("purge: exit %d: %s", code, out.String())
	}
	if got := strings.Join(m.Keys(), ","); got != keystore.PrivateKeyKey("unrelated") {
		t.Fatalf("left in the keyring: %s", got)
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Fatalf("config still there: %v", err)
	}
	if !strings.Contains(out.String(), "deleted 6 keyring items of profiles default, ops") {
		t.Fatalf("output: %s", out.String())
	}

	// No config: nothing to purge, and it says so.
	out.Reset()
	p, _ = planPurge(env, uninstallOptions{purge: true, config: cfg})
	if code := p.run(ctx, env, ""); code != ExitOK || !strings.Contains(out.String(), "no profile to purge") {
		t.Fatalf("no config: exit %d: %s", code, out.String())
	}

	// A locked keyring: the error and its hint, and the config is kept for a rerun.
	cfg = svcConfig(t, "default")
	m.SetError(keystore.ErrLocked)
	out.Reset()
	p, _ = planPurge(env, uninstallOptions{purge: true, yes: true, config: cfg})
	if code := p.run(ctx, env, ""); code != ExitError || !strings.Contains(out.String(), "keyring locked") ||
		!strings.Contains(out.String(), "the config file was kept") {
		t.Fatalf("locked: exit %d: %s", code, out.String())
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Fatal("config removed although the keyring items were not")
	}
}
