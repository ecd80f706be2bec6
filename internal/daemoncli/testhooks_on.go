//go:build testhooks

// The daemon's test hooks, compiled only with -tags testhooks (the e2e tests build the
// daemon so). Each reads one LWTOKEN_HELPERD_TEST_* variable; testhooks_off.go holds
// what release builds do instead, which ignore those variables.

package daemoncli

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// testBackoff reads the retry schedule's base and cap from LWTOKEN_HELPERD_TEST_BACKOFF
// ("200ms,2s"), so that fault tests see many retries of the real process in a few
// seconds. Zeros mean the daemon's defaults.
func testBackoff() (base, cap time.Duration) { return durationPair("LWTOKEN_HELPERD_TEST_BACKOFF") }

// testReadTimeouts reads the request read timeouts from LWTOKEN_HELPERD_TEST_READ_TIMEOUTS
// ("60s,60s"): a load test makes them long so that a daemon starved by slow clients would
// show it unmistakably. Zeros mean the daemon's defaults.
func testReadTimeouts() (header, whole time.Duration) {
	return durationPair("LWTOKEN_HELPERD_TEST_READ_TIMEOUTS")
}

// durationPair parses the variable name as "D1,D2"; anything unparsable is zero.
func durationPair(name string) (time.Duration, time.Duration) {
	a, b, ok := strings.Cut(os.Getenv(name), ",")
	if !ok {
		return 0, 0
	}
	d1, _ := time.ParseDuration(strings.TrimSpace(a))
	d2, _ := time.ParseDuration(strings.TrimSpace(b))
	return max(d1, 0), max(d2, 0)
}

// testClock adds to the wall clock the number of seconds written in the file named by
// LWTOKEN_HELPERD_TEST_CLOCK_FILE, so a test can make the daemon believe the machine
// slept.
func testClock() func() time.Time {
	path := os.Getenv("LWTOKEN_HELPERD_TEST_CLOCK_FILE")
	if path == "" {
		return time.Now
	}
	return func() time.Time {
		b, err := os.ReadFile(path)
		if err != nil {
			return time.Now()
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return time.Now()
		}
		return time.Now().Add(time.Duration(n) * time.Second)
	}
}

// testNoHarden reports whether LWTOKEN_HELPERD_TEST_NO_HARDEN=1 asks the daemon to skip
// daemon.Harden, so that the e2e tests can show that what they check (another process of
// the same user reading /proc/PID/mem, a core limit) really depends on it.
func testNoHarden() bool { return os.Getenv("LWTOKEN_HELPERD_TEST_NO_HARDEN") == "1" }
