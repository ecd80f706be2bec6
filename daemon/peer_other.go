//go:build !linux && !darwin

package daemon

import (
	"errors"
	"net"
)

// peerOf is not implemented on this OS: every connection is refused, fail closed.
func peerOf(net.Conn) (peerInfo, error) {
	return peerInfo{}, errors.New("peer credentials are not supported on this operating system")
}

func exeOf(int) string { return "" }
