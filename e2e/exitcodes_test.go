//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/daemoncli"
)

// TestDaemonExitCodesTellConfigFromCrash: the daemon's own fatal errors, which a restart
// cannot fix, exit with codes of their own (64 bad flags, 78 bad config or socket directory),
// the codes the service files keep from restarting; a crash (a Go panic, and the runtime's
// SIGQUIT and SIGABRT dumps, all exit 2) does not, so systemd and launchd restart it.
// scripts/systemd-test.sh checks the same under a real systemd.
func TestDaemonExitCodesTellConfigFromCrash(t *testing.T) {
	x := newH(t)
	x.setup()
	noRestart := daemoncli.NoRestartExitCodes()

	fatal := func(name string, want int, args ...string) {
		t.Helper()
		r := x.helperd(append([]string{"run"}, args...)...)
		if r.code != want || !slices.Contains(noRestart, r.code) {
			t.Fatalf("%s: exit %d, want %d (one of %v):\n%s", name, r.code, want, noRestart, r.stderr)
		}
		if !strings.HasPrefix(r.stderr, "lwtoken-helperd: error: run: ") || !strings.Contains(r.stderr, "\nlwtoken-helperd: hint: ") {
			t.Fatalf("%s: want an error line and a hint:\n%s", name, r.stderr)
		}
	}
	fatal("unknown flag", 64, "--no-such-flag")
	fatal("bad log level", 64, "--log-level", "loud")
	fatal("bad upstream timeout", 64, "--upstream-timeout", "forever")
	fatal("relative socket path", 64, "--socket", "relative/sock")
	fatal("socket path too long", 64, "--socket", "/"+strings.Repeat("x", 120))
	good, err := os.ReadFile(x.config)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(x.config, append(append([]byte{}, good...), "this is = not [toml\n"...), 0o600)
	fatal("invalid config", 78)
	os.WriteFile(x.config, good, 0o600)

	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGABRT} {
		x.startDaemon()
		x.daemon.Process.Signal(sig)
		select {
		case <-x.exited:
		case <-time.After(15 * time.Second):
			t.Fatalf("%v: the daemon did not exit", sig)
		}
		code := x.daemon.ProcessState.ExitCode()
		x.daemon = nil
		if code != 2 || slices.Contains(noRestart, code) {
			t.Fatalf("%v: exit %d, want 2, which is not one of %v", sig, code, noRestart)
		}
		if !strings.Contains(x.log(), "goroutine ") {
			t.Fatalf("%v: no goroutine dump in the log:\n%s", sig, x.log())
		}
	}
}

// TestRunAsALaunchdAgent runs the daemon the way the launchd agent does: fatal errors exit 0
// with --fatal-exit-status 0 (KeepAlive SuccessfulExit=false then leaves it down instead of
// restarting it in a loop), while a crash still exits 2; the log goes to --log-file, is
// rotated at --log-max-size, and a Go runtime dump lands in it too (stderr follows the file).
func TestRunAsALaunchdAgent(t *testing.T) {
	x := newH(t)
	x.setup()
	logFile := filepath.Join(x.dir, "Logs", "lwtoken-helper.log")
	os.Mkdir(filepath.Dir(logFile), 0o700)

	for _, args := range [][]string{
		{"run", "--no-such-flag", "--fatal-exit-status", "0"},
		{"run", "--fatal-exit-status", "0", "--config", filepath.Join(x.dir, "none", "..", "..")},
	} {
		r := x.helperd(args...)
		if r.code != 0 || !strings.HasPrefix(r.stderr, "lwtoken-helperd: error: run: ") {
			t.Fatalf("%q: exit %d, want 0 and the error line:\n%s", args, r.code, r.stderr)
		}
	}

	x.startDaemon("--log-file", logFile, "--log-max-size", "4096", "--fatal-exit-status", "0")
	for range 30 {
		x.getToken() // one debug and one audit line each
	}
	cur, _ := os.ReadFile(logFile)
	old, _ := os.ReadFile(logFile + ".1")
	if len(cur) == 0 || len(cur) > 4096 || len(old) == 0 || len(old) > 4096 || !strings.Contains(string(cur)+string(old), `msg="token served"`) {
		t.Fatalf("log %d bytes, .1 %d bytes: want both non-empty and at most 4096 with the daemon's lines", len(cur), len(old))
	}
	x.daemon.Process.Signal(syscall.SIGQUIT)
	select {
	case <-x.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("the daemon did not exit on SIGQUIT")
	}
	code := x.daemon.ProcessState.ExitCode()
	x.daemon = nil
	if code != 2 {
		t.Fatalf("SIGQUIT: exit %d, want 2 (a crash, restarted by KeepAlive)", code)
	}
	cur, _ = os.ReadFile(logFile)
	if !strings.Contains(string(cur), "SIGQUIT: quit") || !strings.Contains(string(cur), "goroutine ") {
		t.Fatalf("the runtime's dump is not in the log file:\n%s", cur)
	}
	if strings.Contains(x.log(), "goroutine ") {
		t.Fatal("the dump went to the inherited stderr, not to the log file")
	}
}
