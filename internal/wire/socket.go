package wire

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// EnvSocket names the socket path, for the daemon and its clients alike.
const EnvSocket = "LWTOKEN_HELPER_SOCKET"

// EnvProfile names the default profile a client asks for.
const EnvProfile = "LWTOKEN_HELPER_PROFILE"

// DefaultSocketPath returns $LWTOKEN_HELPER_SOCKET, else the per-user default, computed
// the same way in every context (login shell, cron, a systemd unit, ssh):
//   - Linux and other Unix: $XDG_RUNTIME_DIR/lwtoken-helper/sock; without XDG_RUNTIME_DIR
//     (cron), /run/user/UID/lwtoken-helper/sock when /run/user/UID is ours, which is what
//     XDG_RUNTIME_DIR is in a logged-in session; else /tmp/lwtoken-helper-UID/sock. An
//     XDG_RUNTIME_DIR owned by another user (after `su` without -l) is ignored.
//   - macOS: /tmp/lwtoken-helper-UID/sock (short, and the same for launchd agents and shells;
//     the directory's ownership and mode are checked by the daemon).
//   - Windows: %LOCALAPPDATA%\lwtoken-helper\sock.
func DefaultSocketPath() string {
	if p := os.Getenv(EnvSocket); p != "" {
		return p
	}
	return filepath.Join(DefaultSocketDir(), "sock")
}

// DefaultSocketDir is the directory of the default socket (see DefaultSocketPath).
func DefaultSocketDir() string {
	uid := os.Getuid()
	switch runtime.GOOS {
	case "windows":
		if d, err := os.UserCacheDir(); err == nil {
			return filepath.Join(d, "lwtoken-helper")
		}
		return filepath.Join(os.TempDir(), "lwtoken-helper")
	case "darwin":
		return fmt.Sprintf("/tmp/lwtoken-helper-%d", uid)
	}
	// An XDG_RUNTIME_DIR that belongs to another user (inherited through `su` without -l)
	// is not ours: fall through to our own.
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) && !ownedByOther(d, uid) {
		return filepath.Join(d, "lwtoken-helper")
	}
	run := fmt.Sprintf("/run/user/%d", uid)
	if ownedDir(run, uid) {
		return filepath.Join(run, "lwtoken-helper")
	}
	return fmt.Sprintf("/tmp/lwtoken-helper-%d", uid)
}
