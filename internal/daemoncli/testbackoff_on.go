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

// testReadTimeouts, in test builds only, reads the request read timeouts from
// LWTOKEN_HELPERD_TEST_READ_TIMEOUTS ("60s,60s"): a load test makes them long so that a
// daemon starved by slow clients would show it unmistakably.
func testReadTimeouts() (header, whole time.Duration) {
	h, w, ok := strings.Cut(os.Getenv("LWTOKEN_HELPERD_TEST_READ_TIMEOUTS"), ",")
	if !ok {
		return 0, 0
	}
	header, _ = time.ParseDuration(strings.TrimSpace(h))
	whole, _ = time.ParseDuration(strings.TrimSpace(w))
	return max(header, 0), max(whole, 0)
}
