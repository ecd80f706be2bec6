//go:build !testhooks

// What release builds do where test builds have hooks (testhooks_on.go): the daemon's
// defaults, the real clock, always harden. No LWTOKEN_HELPERD_TEST_* variable is read.

package daemoncli

import "time"

// testBackoff keeps the daemon's retry schedule.
func testBackoff() (base, cap time.Duration) { return 0, 0 }

// testReadTimeouts keeps the daemon's read timeouts.
func testReadTimeouts() (header, whole time.Duration) { return 0, 0 }

// testClock is the real clock.
func testClock() func() time.Time { return time.Now }

// testNoHarden is false: release builds always harden.
func testNoHarden() bool { return false }
