//go:build !unix

package daemoncli

// ownerOf cannot tell owners on this platform.
func ownerOf(string) (int, bool) { return 0, false }

// deviceOf cannot tell devices on this platform.
func deviceOf(string) (maj, min uint32, ok bool) { return 0, 0, false }
