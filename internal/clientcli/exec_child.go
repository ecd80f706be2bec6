package clientcli

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// runChild runs the command as a child process with this process's stdin and env's
// output streams, passes forwardedSignals on to it, and returns its exit status: its exit
// code, or 128+N when signal N killed it (as shells report it). It is how exec works where
// a process cannot replace itself.
func runChild(env *Env, path string, argv, envv []string) int {
	cmd := &exec.Cmd{Path: path, Args: argv, Env: envv, Stdin: os.Stdin, Stdout: env.Stdout, Stderr: env.Stderr}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		errorf(env, "exec: %s: %v", argv[0], lookPathReason(err))
		return ExitCannotExec
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s) // fails harmlessly where a signal cannot be sent (Windows)
			case <-done:
				return
			}
		}
	}()
	cmd.Wait()
	close(done)
	return exitStatus(cmd.ProcessState)
}

// exitStatus is the status a shell would report for ps: 128+N for a death by signal N.
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return ExitError
	}
	if ws, ok := ps.Sys().(interface {
		Signaled() bool
		Signal() syscall.Signal
	}); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
