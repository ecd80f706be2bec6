//go:build !testhooks

package daemoncli

// testNoHarden is false: release builds always harden. Builds with -tags testhooks may
// skip it, to prove the hardening tests fail without it.
func testNoHarden() bool { return false }
