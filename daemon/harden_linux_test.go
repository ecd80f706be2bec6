package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const hardenChildEnv = "LWTOKEN_HELPER_TEST_HARDEN_CHILD"

// TestHardenMakesTheProcessNotDumpable runs Harden in a child process (it cannot be undone)
// that starts dumpable with a core limit, and reads the kernel's view back.
func TestHardenMakesTheProcessNotDumpable(t *testing.T) {
	if os.Getenv(hardenChildEnv) == "1" {
		unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 1 << 20, Max: unix.RLIM_INFINITY})
		before, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		if err := Harden(); err != nil {
			fmt.Println("harden:", err)
			os.Exit(1)
		}
		after, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_CORE, &rl)
		limits, _ := os.ReadFile("/proc/self/limits")
		var core string
		for _, l := range strings.Split(string(limits), "\n") {
			if strings.HasPrefix(l, "Max core file size") {
				core = strings.Join(strings.Fields(l)[4:6], " ")
			}
		}
		fmt.Printf("dumpable %d->%d rlimit %d/%d proc %s\n", before, after, rl.Cur, rl.Max, core)
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHardenMakesTheProcessNotDumpable$", "-test.count=1")
	cmd.Env = append(os.Environ(), hardenChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "dumpable 1->0 rlimit 0/0 proc 0 0"; got != want {
		t.Fatalf("child reports %q, want %q", got, want)
	}
}
