//go:build unix

package keystore

import (
	"os"

	"golang.org/x/sys/unix"
)

func dirSupported() error { return nil }

// openNoFollow opens path for reading, refusing a symbolic link in its last element.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
}
