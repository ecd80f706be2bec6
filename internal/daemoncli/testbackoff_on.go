//go:build testhooks

package daemoncli

import (
	"os"
	"strings"
	"time"
)

// testBackoff, in test builds only, reads the retry schedule's base and cap from
// LWTOKEN_HELPERD_TEST_BACKOFF ("200ms,2s"), so that fault tests see many retries of the
// real process in a few seconds. Zeros mean the daemon's defaults. Release builds do not
// contain this code.
func testBackoff() (base, cap time.Duration) {
	b, c, ok := strings.Cut(os.Getenv("LWTOKEN_HELPERD_TEST_BACKOFF"), ",")
	if !ok {
		return 0, 0
	}
	base, _ = time.ParseDuration(strings.TrimSpace(b))
	cap, _ = time.ParseDuration(strings.TrimSpace(c))
	return max(base, 0), max(cap, 0)
}
