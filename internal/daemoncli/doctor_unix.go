//go:build unix

package daemoncli

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ownerOf returns the uid owning path (not following a final symlink).
func ownerOf(path string) (int, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// deviceOf returns the major and minor number of the device holding path.
func deviceOf(path string) (maj, min uint32, ok bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, 0, false
	}
	return unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), true
}
