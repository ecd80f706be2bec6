package client

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// ErrForeignDaemon is returned (inside an *Error) when the socket is served by a process of
// another user: the client sends nothing to it. It also matches ErrDaemonNotRunning, since
// the user's own daemon is not reachable there.
var ErrForeignDaemon = fmt.Errorf("%w: the socket is served by another user", ErrDaemonNotRunning)

// trustedServer reports whether a daemon running as uid may be sent requests by a client
// running as self: the same user, or root (a system service run by root; root can read the
// user's secrets anyway).
func trustedServer(uid, self int) bool { return uid == self || uid == 0 }

// checkServer is the mirror of the daemon's peer check: before a byte is written, it asks the
// kernel which uid serves conn (one getsockopt) and refuses any uid trustedServer does not
// accept. Another user who created the socket directory first (a shared /tmp, no
// XDG_RUNTIME_DIR) could otherwise see every request and answer with a token of its choice.
func checkServer(conn net.Conn, sock string) error {
	uid, err := serverUID(conn)
	self := os.Getuid()
	if err == nil && trustedServer(uid, self) {
		return nil
	}
	msg := fmt.Sprintf("cannot check who serves the socket %s: %v", sock, err)
	if err == nil {
		msg = fmt.Sprintf("the socket %s is served by uid %d, not by you (uid %d) or root: refusing to talk to it", sock, uid, self)
	}
	return &Error{Code: "foreign_daemon", Err: ErrForeignDaemon, Message: msg,
		Hint: fmt.Sprintf("another user may have created %s before your daemon did: have it removed (as root), or set %s or XDG_RUNTIME_DIR to a directory of your own",
			filepath.Dir(sock), wire.EnvSocket)}
}

// serverUID returns the uid of the process that listens on the other end of conn, as the
// kernel recorded it (peerUID: SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS).
func serverUID(conn net.Conn) (int, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0, errors.New("not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var uid int
	var serr error
	if err := raw.Control(func(fd uintptr) { uid, serr = peerUID(int(fd)) }); err != nil {
		return 0, err
	}
	return uid, serr
}
