//go:build !unix

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// CheckTrusted checks only that the file exists: this platform has no uid owners and
// permission bits to check (see the unix version). A missing file returns an error
// wrapping ErrNotFound.
func CheckTrusted(path string, uid int) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("config: %s: %w", path, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
