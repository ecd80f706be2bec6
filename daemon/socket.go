package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// ErrAlreadyRunning is returned by Listen when a daemon already answers on the socket.
var ErrAlreadyRunning = errors.New("another daemon is already listening")

// listenSocket creates the socket at path with ssh-agent discipline: the directory is the
// user's own (created 0700 when missing; refused if it is a symlink, another user's, or
// writable by group or others), a live daemon on the path is never displaced, only a dead
// socket file is removed, and the socket is 0600 whatever the umask.
func listenSocket(path string) (*net.UnixListener, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("socket path %q is not absolute", path)
	}
	if len(path) > wire.MaxSocketPath {
		return nil, fmt.Errorf("socket path is %d bytes, longer than the %d a unix socket allows: choose a shorter path", len(path), wire.MaxSocketPath)
	}
	dir := filepath.Dir(path)
	if err := ensurePrivateDir(dir); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket: remove it or choose another path", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", path, ErrAlreadyRunning)
		}
		// Dead socket: nobody listens. The directory is ours alone, so no other user can
		// race us between this check and the new bind.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("socket path: %w", err)
	}
	l, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false) // Shutdown removes it, only if it is still ours
	return l, nil
}

// SocketDirError is why a directory may not hold the daemon's socket (see CheckSocketDir).
type SocketDirError struct {
	Dir string
	Fix string // a concrete step that fixes it, for doctor; may be ""
	msg string
}

func (e *SocketDirError) Error() string { return e.msg }

// CheckSocketDir applies the rule the daemon applies to its socket's directory before it
// listens: dir must be a real directory (not a symlink) owned by this process's uid and
// not writable by group or others. It returns nil, a *SocketDirError saying why not, or,
// when dir cannot be read (a missing one, which the daemon creates, wraps fs.ErrNotExist),
// the error of lstat. On platforms without owners and modes it checks nothing.
func CheckSocketDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	return checkPrivateDir(dir, fi)
}

// ensurePrivateDir creates dir 0700 if missing and checks that it is safe to hold the socket.
func ensurePrivateDir(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return fmt.Errorf("create socket directory: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create socket directory: %w", err)
		}
	}
	return CheckSocketDir(dir)
}
