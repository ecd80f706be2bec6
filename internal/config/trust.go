package config

import (
	"errors"
	"fmt"
)

// ErrUnsafe is wrapped by the errors of CheckTrusted (and so of LoadTrusted) when a user
// other than the daemon's own and root could change the config file.
var ErrUnsafe = errors.New("config file could be changed by another user")

// UnsafeError says which file or directory makes a config unsafe, and how to fix it.
type UnsafeError struct {
	Path string // the file or directory at fault
	Fix  string // a concrete step, for the hint and for doctor
	msg  string
}

func (e *UnsafeError) Error() string { return "config: " + e.msg }

// Is makes errors.Is(err, ErrUnsafe) hold.
func (e *UnsafeError) Is(target error) bool { return target == ErrUnsafe }

// LoadTrusted is Load after CheckTrusted(path, uid): the daemon's way to read its config.
// The config decides where the client secret is sent (auth_url), so a file that another
// user could have written is never read. A missing file (in trusted directories) returns
// an error wrapping ErrNotFound, as Load does.
func LoadTrusted(path string, uid int) (*Config, error) {
	if err := CheckTrusted(path, uid); err != nil {
		return nil, err
	}
	return Load(path)
}

func unsafef(path, fix, format string, args ...any) *UnsafeError {
	return &UnsafeError{Path: path, Fix: fix, msg: fmt.Sprintf(format, args...)}
}
