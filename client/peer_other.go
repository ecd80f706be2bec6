//go:build !linux && !darwin

package client

import (
	"errors"
	"net"
)

// serverUID is not implemented on this OS: the client refuses to talk to any daemon, as the
// daemon refuses every client here (fail closed).
func serverUID(net.Conn) (int, error) {
	return 0, errors.New("peer credentials are not supported on this operating system")
}
