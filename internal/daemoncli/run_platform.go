package daemoncli

import "fmt"

// servePlatformError returns why `run` cannot serve on goos, or nil where it can. The daemon
// hands tokens only to peers whose uid the kernel reports (Linux SO_PEERCRED, macOS
// LOCAL_PEERCRED); elsewhere it could only refuse every connection, so `run` refuses to start
// instead of listening on a socket that never serves. On Windows a peer check would need
// SIO_AF_UNIX_GETPEERPID and the peer process's owner SID, which is not implemented.
func servePlatformError(goos string) *verbError {
	switch goos {
	case "linux", "darwin":
		return nil
	case "windows":
		return &verbError{code: ExitError,
			msg:  "the daemon does not run on windows: it cannot tell which user connects to its socket, so it could serve nobody safely",
			hint: "run lwtoken-helperd on linux or macOS, e.g. inside WSL 2, and use lwtoken-helper there"}
	}
	return &verbError{code: ExitError,
		msg:  fmt.Sprintf("the daemon does not run on %s: it checks each client's uid with the kernel's peer credentials, which it reads only on linux and macOS", goos),
		hint: "run lwtoken-helperd on linux or macOS"}
}
