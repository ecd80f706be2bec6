package daemoncli

import (
	"os"

	"golang.org/x/sys/unix"
)

// redirectStdio makes fds 1 and 2 refer to f.
func redirectStdio(f *os.File) error {
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(int(f.Fd()), fd, 0); err != nil {
			return err
		}
	}
	return nil
}
