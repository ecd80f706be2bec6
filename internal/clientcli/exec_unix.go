//go:build unix

package clientcli

import (
	"os"
	"syscall"
)

// execReplace replaces this process with the command (execve): the command keeps the
// process id, so signals sent to it, terminal job control and the exit status (a death
// by signal included) are the command's own, with no wrapper process in between. It
// returns only if the exec failed.
func execReplace(env *Env, path string, argv, envv []string) int {
	err := syscall.Exec(path, argv, envv)
	errorf(env, "exec: %s: %v", argv[0], err)
	return ExitCannotExec
}

// forwardedSignals are what runChild passes on to the command.
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}
