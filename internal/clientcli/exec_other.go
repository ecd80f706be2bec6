//go:build !unix

package clientcli

import "os"

// execReplace runs the command as a child where a process cannot be replaced (Windows),
// and returns its exit status.
func execReplace(env *Env, path string, argv, envv []string) int {
	return runChild(env, path, argv, envv)
}

// forwardedSignals: on Windows a console's Ctrl-C reaches every process attached to it,
// the child included; lwtoken-helper catches it only to stay alive until the child exits.
var forwardedSignals = []os.Signal{os.Interrupt}
