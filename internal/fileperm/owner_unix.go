//go:build unix

package fileperm

import (
	"io/fs"
	"syscall"
)

// Owner returns the uid owning fi's file, or -1 when fi does not say.
func Owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
