//go:build unix && !linux && !darwin

package daemon

// denyDebuggers does nothing here: only the core limit is set on this platform.
func denyDebuggers() error { return nil }
