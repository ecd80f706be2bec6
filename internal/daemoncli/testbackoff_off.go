//go:build !testhooks

package daemoncli

import "time"

// testBackoff keeps the daemon's retry schedule. Builds with -tags testhooks may shrink it.
func testBackoff() (base, cap time.Duration) { return 0, 0 }

// testReadTimeouts is zero (the daemon's defaults) in release builds.
func testReadTimeouts() (header, whole time.Duration) { return 0, 0 }
