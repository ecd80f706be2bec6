package wire

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// EnvSocket names the socket path, for the daemon and its clients alike.
const EnvSocket = "LWTOKEN_HELPER_SOCKET"

// EnvProfile names the default profile a client asks for.
const EnvProfile = "LWTOKEN_HELPER_PROFILE"

// SystemSocketBase holds the sockets of system services (`lwtoken-helperd install
// --system-user USER`): systemd creates SystemSocketDir(uid) for the service user, owned by
// it with mode 0700, under this root-owned directory.
const SystemSocketBase = "/run/lwtoken-helper"

// SystemSocketDir is the socket directory of the system service running as uid.
func SystemSocketDir(uid int) string { return fmt.Sprintf("%s/%d", systemSocketBase, uid) }

// systemSocketBase is SystemSocketBase; tests point it elsewhere.
var systemSocketBase = SystemSocketBase

// DefaultSocketPath returns $LWTOKEN_HELPER_SOCKET, else the per-user default, computed
// the same way in every context (login shell, cron, a systemd unit, ssh):
//   - Linux and other Unix: SystemSocketDir(UID)/sock when that directory exists and is
//     ours (a system service runs for this user; one stat); else
//     $XDG_RUNTIME_DIR/lwtoken-helper/sock; without XDG_RUNTIME_DIR (cron),
//     /run/user/UID/lwtoken-helper/sock when /run/user/UID is ours, which is what
//     XDG_RUNTIME_DIR is in a logged-in session; else /tmp/lwtoken-helper-UID/sock. An
//     XDG_RUNTIME_DIR owned by another user (after `su` without -l) is ignored.
//   - macOS: ~/Library/Application Support/lwtoken-helper/run/sock (see darwinSocketDir): the
//     same for launchd agents and shells, and never in world-writable /tmp, where another user
//     could create the directory first and serve a fake daemon.
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
		return darwinSocketDir(os.Getenv("HOME"), os.Getenv("TMPDIR"))
	}
	// A system service for this user wins: its directory exists only while it runs, and
	// only root (systemd) can create it under SystemSocketBase.
	if sys := SystemSocketDir(uid); ownedDir(sys, uid) {
		return sys
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

// MaxSocketPath is the longest socket path every Unix accepts (sun_path is 104 bytes on
// macOS and the BSDs, NUL included): the one limit the daemon, install and doctor apply.
const MaxSocketPath = 103

// darwinSocketDir is macOS's default socket directory: home/Library/Application
// Support/lwtoken-helper/run, which only the user can write to (and which the system does
// not clean up, unlike the per-user $TMPDIR). Where that would make the socket path too long
// for sun_path, or there is no home, it is tmpdir/lwtoken-helper when tmpdir is the per-user
// temporary directory macOS sets (under /var/folders, not the shared /tmp); else the home
// path stands and the daemon's bind reports the problem (LWTOKEN_HELPER_SOCKET overrides).
func darwinSocketDir(home, tmpdir string) string {
	dir := filepath.Join(home, "Library", "Application Support", "lwtoken-helper", "run")
	if filepath.IsAbs(home) && len(dir)+len("/sock") <= MaxSocketPath {
		return dir
	}
	if t := filepath.Clean(tmpdir); strings.HasPrefix(t, "/var/folders/") || strings.HasPrefix(t, "/private/var/folders/") {
		if alt := filepath.Join(t, "lwtoken-helper"); len(alt)+len("/sock") <= MaxSocketPath {
			return alt
		}
	}
	if !filepath.IsAbs(home) {
		return "/var/empty/lwtoken-helper" // no home: a path nobody can create, so the daemon fails with a clear error
	}
	return dir
}
