package testkeyring

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel SIGKILL the daemon if this process dies without
// calling Close (a test binary killed by -timeout or a signal), so nothing outlives it.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
