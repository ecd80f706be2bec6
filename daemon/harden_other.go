//go:build unix && !linux

package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Harden sets RLIMIT_CORE to 0 (soft and hard), so a crash writes no core file, and on
// macOS calls ptrace(PT_DENY_ATTACH), so no debugger (of the same user) can attach to the
// process from then on (see denyDebuggers). It returns the first step that failed.
func Harden() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("rlimit_core: %w", err)
	}
	return denyDebuggers()
}
