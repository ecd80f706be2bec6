//go:build !unix

package keystore

import (
	"errors"
	"os"
)

func dirSupported() error {
	return errors.New("a credentials directory is supported on unix systems only")
}

func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
