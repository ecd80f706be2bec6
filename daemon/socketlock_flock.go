//go:build unix && !solaris && !aix

package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockSocket takes an exclusive lock on path+".lock" in the socket's (checked, private)
// directory and holds it until the returned Closer is closed. Two daemons started at once
// on the same path would otherwise both find the dead socket of a third, both remove what
// is there and both bind: the loser's removal would unlink the winner's fresh socket. With
// the lock, the check, the removal and the bind run for one daemon at a time, and a daemon
// that is starting or running makes the next one fail with ErrAlreadyRunning.
func lockSocket(path string) (io.Closer, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("socket path %q is not absolute", path)
	}
	if err := ensurePrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	name := path + ".lock"
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("socket lock %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is locked by another daemon: %w", name, ErrAlreadyRunning)
		}
		return nil, fmt.Errorf("socket lock %s: %w", name, err)
	}
	return f, nil
}
