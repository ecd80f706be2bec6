package daemon

// Harden does nothing on Windows, where the daemon is built but not supported.
func Harden() error { return nil }
