//go:build unix

package e2e

import (
	"os"
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
