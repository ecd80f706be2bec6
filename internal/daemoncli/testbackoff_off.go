//go:build !testhooks

package daemoncli

import "time"

// testBackoff keeps the daemon's retry schedule. Builds with -tags testhooks may shrink it.
func testBackoff() (base, cap time.Duration) { return 0, 0 }
