//go:build unix

package testkeyring_test

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkeyring"
)

const svc = "testkeyring-test"

func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

func TestEnvLifecycle(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/before") // restored by Close
	env, err := testkeyring.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Close() })

	for _, kv := range env.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if got := os.Getenv(k); got != v || v == "" {
			t.Errorf("%s = %q in this process, Environ says %q", k, got, v)
		}
	}
	if !strings.HasPrefix(env.BusAddress, "unix:path="+env.RuntimeDir+"/bus") {
		t.Errorf("BusAddress %q is not under RuntimeDir %q", env.BusAddress, env.RuntimeDir)
	}
	busPID, keyringPID := env.PIDs()
	if !alive(busPID) || !alive(keyringPID) {
		t.Fatalf("daemons not running: bus %d, keyring %d", busPID, keyringPID)
	}

	// A child process given Environ finds our gnome-keyring on our bus.
	cmd := exec.Command("dbus-send", "--session", "--print-reply=literal", "--dest=org.freedesktop.DBus",
		"/org/freedesktop/DBus", "org.freedesktop.DBus.GetConnectionUnixProcessID", "string:org.freedesktop.secrets")
	cmd.Env = append(os.Environ(), env.Environ()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dbus-send: %v\n%s", err, out)
	}
	if f := strings.Fields(string(out)); len(f) != 2 || f[1] != strconv.Itoa(keyringPID) {
		t.Errorf("org.freedesktop.secrets owned by %q, want pid %d", out, keyringPID)
	}

	// go-keyring works against it; items are stored under DataDir.
	if err := keyring.Set(svc, "user", "value\nwith newline"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(env.DataDir + "/keyrings/login.keyring"); err != nil {
		t.Errorf("no login keyring under DataDir: %v", err)
	}
	get := func() (string, error) { return keyring.Get(svc, "user") }
	if v, err := get(); err != nil || v != "value\nwith newline" {
		t.Fatalf("get = %q, %v", v, err)
	}

	// Lock: go-keyring cannot unlock without a prompter and says so; Unlock brings it back.
	if err := env.Lock(); err != nil {
		t.Fatal(err)
	}
	if _, err := get(); err == nil || !strings.Contains(err.Error(), "failed to unlock correct collection") {
		t.Errorf("get on a locked keyring: %v", err)
	}
	if err := env.Unlock(); err != nil {
		t.Fatal(err)
	}
	if v, err := get(); err != nil || v != "value\nwith newline" {
		t.Fatalf("get after unlock = %q, %v", v, err)
	}

	// Stop: the name is gone from the bus (nothing is auto-activated); Start: items are back.
	if err := env.StopSecretService(); err != nil {
		t.Fatal(err)
	}
	if alive(keyringPID) {
		t.Errorf("gnome-keyring-daemon %d still running after StopSecretService", keyringPID)
	}
	if _, err := get(); err == nil || !strings.Contains(err.Error(), "was not provided by any .service files") {
		t.Errorf("get with the service stopped: %v", err)
	}
	if err := env.Lock(); err == nil {
		t.Errorf("Lock with the service stopped succeeded")
	}
	if err := env.StartSecretService(); err != nil {
		t.Fatal(err)
	}
	if err := env.StartSecretService(); err == nil {
		t.Errorf("second StartSecretService succeeded")
	}
	_, keyringPID = env.PIDs()
	if v, err := get(); err != nil || v != "value\nwith newline" {
		t.Fatalf("get after restart = %q, %v", v, err)
	}
	if err := keyring.Delete(svc, "user"); err != nil {
		t.Fatal(err)
	}
	if _, err := get(); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}

	// Close: nothing left running (and reaped: no zombie answers kill 0), env restored.
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(busPID) || alive(keyringPID) {
		t.Errorf("processes left after Close: bus %v, keyring %v", alive(busPID), alive(keyringPID))
	}
	if got := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); got != "unix:path=/nonexistent/before" {
		t.Errorf("DBUS_SESSION_BUS_ADDRESS after Close = %q", got)
	}
	if err := env.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	before := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	env, err := testkeyring.Start(t.TempDir())
	if err == nil {
		env.Close()
		t.Fatal("Start succeeded without dbus-daemon in PATH")
	}
	for _, want := range []string{"dbus-daemon", "apt-get", "gnome-keyring"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != before {
		t.Errorf("failed Start changed the environment")
	}
}

func TestStartDirTooLong(t *testing.T) {
	dir := t.TempDir() + "/" + strings.Repeat("d", 100)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := testkeyring.Start(dir); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("Start in a long dir: %v", err)
	}
}
