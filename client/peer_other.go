//go:build !linux && !darwin

package client

import "errors"

// peerUID is not implemented on this OS: the client refuses to talk to any daemon, as the
// daemon refuses every client here (fail closed).
func peerUID(int) (int, error) {
	return 0, errors.New("peer credentials are not supported on this operating system")
}
