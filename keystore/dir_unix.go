//go:build unix

package keystore

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func dirSupported() error { return nil }

// ownerOf returns the uid that owns fi's file.
func ownerOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// openNoFollow opens path for reading, refusing a symbolic link in its last element.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
}
