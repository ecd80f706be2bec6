//go:build unix

package daemon

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
)

func checkPrivateDir(dir string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &SocketDirError{Dir: dir, Fix: "remove it: rm " + dir,
			msg: fmt.Sprintf("socket directory %s is a symlink: refusing to follow it (remove it, or set the socket path to a real directory)", dir)}
	}
	if !fi.IsDir() {
		return &SocketDirError{Dir: dir, Fix: "remove it: rm " + dir, msg: fmt.Sprintf("socket directory %s is not a directory", dir)}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &SocketDirError{Dir: dir, msg: fmt.Sprintf("socket directory %s: cannot read its owner", dir)}
	}
	if int(st.Uid) != os.Getuid() {
		return &SocketDirError{Dir: dir, Fix: "choose another socket path with LWTOKEN_HELPER_SOCKET, or have its owner remove " + dir,
			msg: fmt.Sprintf("socket directory %s is owned by uid %d, not by you (uid %d): refusing to use it", dir, st.Uid, os.Getuid())}
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &SocketDirError{Dir: dir, Fix: "chmod 700 " + dir,
			msg: fmt.Sprintf("socket directory %s is writable by group or others (mode %04o): run `chmod 700 %s`", dir, fi.Mode().Perm(), dir)}
	}
	return nil
}

// listenPrivate binds with a umask that leaves the socket 0600 from its first moment, then
// chmods it to be sure.
func listenPrivate(path string) (*net.UnixListener, error) {
	old := syscall.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// sameFile reports whether path still names the socket we created (so Shutdown never
// removes a successor's socket).
func sameFile(path string, want fs.FileInfo) bool {
	fi, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, want)
}
