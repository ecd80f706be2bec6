package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// denyDebuggers calls ptrace(PT_DENY_ATTACH): from then on the kernel refuses ptrace
// attaches to this process, so a debugger run by the same user (lldb) cannot attach. It is
// a speed bump, not a wall: root and kernel extensions can get around it. It needs no cgo
// (x/sys calls libSystem). A process already being traced when it calls this exits
// (status ENOTSUP), as the man page says.
func denyDebuggers() error {
	if err := unix.PtraceDenyAttach(); err != nil {
		return fmt.Errorf("ptrace(PT_DENY_ATTACH): %w", err)
	}
	return nil
}
