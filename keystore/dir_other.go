//go:build !unix

package keystore

import (
	"errors"
	"io/fs"
	"os"
)

func dirSupported() error {
	return errors.New("a credentials directory is supported on unix systems only")
}

func ownerOf(fs.FileInfo) int { return -1 }

func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
