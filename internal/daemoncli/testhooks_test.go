package daemoncli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A release build of the daemon holds none of the test hooks of testhooks_on.go: not one
// LWTOKEN_HELPERD_TEST_* name is in the binary, so no variable can move its clock, shrink
// its backoff or skip hardening. The same build with -tags testhooks holds them (the check
// can fail).
func TestReleaseBuildHasNoTestHooks(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the daemon: %v", err)
	}
	for _, tc := range []struct {
		tags  []string
		hooks bool
	}{{nil, false}, {[]string{"-tags", "testhooks"}, true}} {
		out := filepath.Join(t.TempDir(), "lwtoken-helperd")
		args := append(append([]string{"build"}, tc.tags...), "-o", out, "../../cmd/lwtoken-helperd")
		if b, err := exec.Command(goBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, b)
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"LWTOKEN_HELPERD_TEST_BACKOFF", "LWTOKEN_HELPERD_TEST_READ_TIMEOUTS",
			"LWTOKEN_HELPERD_TEST_CLOCK_FILE", "LWTOKEN_HELPERD_TEST_NO_HARDEN"} {
			if got := bytes.Contains(bin, []byte(name)); got != tc.hooks {
				t.Errorf("build %v: holds %s = %v, want %v", tc.tags, name, got, tc.hooks)
			}
		}
	}
}
