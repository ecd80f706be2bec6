//go:build !testhooks

package daemoncli

import "time"

// testClock is the real clock. Builds with -tags testhooks may move it (for fault tests).
func testClock() func() time.Time { return time.Now }
