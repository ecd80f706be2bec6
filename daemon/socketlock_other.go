//go:build !unix || solaris || aix

package daemon

import "io"

// lockSocket is a no-op where flock(2) is missing: the dial-before-listen check alone
// guards the socket path there.
func lockSocket(string) (io.Closer, error) { return noLock{}, nil }

type noLock struct{}

func (noLock) Close() error { return nil }
