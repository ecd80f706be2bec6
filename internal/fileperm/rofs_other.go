//go:build unix && !linux && !darwin

package fileperm

// readOnlyMount reports false: read-only mounts are not detected on this platform.
func readOnlyMount(string) bool { return false }
