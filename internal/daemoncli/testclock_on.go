//go:build testhooks

package daemoncli

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// testClock, in test builds only, adds to the wall clock the number of seconds written in
// the file named by LWTOKEN_HELPERD_TEST_CLOCK_FILE, so a test can make the daemon believe
// the machine slept. Release builds do not contain this code.
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
