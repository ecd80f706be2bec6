//go:build testhooks

package daemoncli

import "os"

// testNoHarden, in test builds only, reports whether LWTOKEN_HELPERD_TEST_NO_HARDEN=1 asks
// the daemon to skip daemon.Harden, so that the e2e tests can show that what they check
// (another process of the same user reading /proc/PID/mem, a core limit) really depends on
// it. Release builds do not contain this code: they always harden.
func testNoHarden() bool { return os.Getenv("LWTOKEN_HELPERD_TEST_NO_HARDEN") == "1" }
