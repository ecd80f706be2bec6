//go:build unix && !linux

package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Harden sets RLIMIT_CORE to 0. On macOS, denying ptrace needs PT_DENY_ATTACH, which Go
// does not expose without cgo; see SECURITY.md.
func Harden() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("rlimit_core: %w", err)
	}
	return nil
}
