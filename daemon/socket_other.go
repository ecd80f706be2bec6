//go:build !unix

package daemon

import (
	"io/fs"
	"net"
	"os"
)

func checkPrivateDir(string, fs.FileInfo) error { return nil }

func listenPrivate(path string) (*net.UnixListener, error) {
	return net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
}

func sameFile(path string, want fs.FileInfo) bool {
	fi, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, want)
}
