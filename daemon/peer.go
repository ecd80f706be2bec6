package daemon

import (
	"context"
	"net"
	"sync"
)

// peerInfo is who is on the other end of a connection, as the kernel reports it.
type peerInfo struct {
	UID int
	PID int // 0 where the OS does not report it
	Exe string
}

type peerKey struct{}

// peerFrom returns the peer stored in ctx by the server, if any.
func peerFrom(ctx context.Context) (peerInfo, bool) {
	p, ok := ctx.Value(peerKey{}).(peerInfo)
	return p, ok
}

// peerConn is an accepted connection that passed the peer check.
// Close releases the connection's slot once.
type peerConn struct {
	net.Conn
	peer    peerInfo
	release func()
	once    sync.Once
}

func (c *peerConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
