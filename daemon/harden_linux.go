package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Harden makes the process non-dumpable (no ptrace or /proc/PID/mem by other processes of
// the same user, no core dump) and sets RLIMIT_CORE to 0. Call it before any secret is read.
func Harden() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("rlimit_core: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("pr_set_dumpable: %w", err)
	}
	return nil
}
