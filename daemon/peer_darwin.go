package daemon

import (
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"
)

// peerOf reads the peer's credentials from the kernel (LOCAL_PEERCRED, LOCAL_PEERPID).
func peerOf(c net.Conn) (peerInfo, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peerInfo{}, fmt.Errorf("not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peerInfo{}, err
	}
	var cred *unix.Xucred
	var pid int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if serr == nil {
			pid, _ = unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID)
		}
	}); err != nil {
		return peerInfo{}, err
	}
	if serr != nil {
		return peerInfo{}, fmt.Errorf("local_peercred: %w", serr)
	}
	return peerInfo{UID: int(cred.Uid), PID: pid}, nil
}

// exeOf returns the executable path of pid, from kern.procargs2 (argc, then the path the
// process was executed from, NUL-terminated), or "" if it cannot be read.
func exeOf(pid int) string {
	if pid <= 0 {
		return ""
	}
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil || len(b) < 5 {
		return ""
	}
	path, _, _ := strings.Cut(string(b[4:]), "\x00")
	return path
}
