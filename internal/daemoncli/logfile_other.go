//go:build !unix

package daemoncli

import "os"

// redirectStdio does nothing here: run does not serve on this platform.
func redirectStdio(*os.File) error { return nil }
