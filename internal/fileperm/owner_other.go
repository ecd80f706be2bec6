//go:build !unix

package fileperm

import "io/fs"

// Owner returns -1: this platform has no uid owners.
func Owner(fs.FileInfo) int { return -1 }

func readOnlyMount(string) bool { return false }
