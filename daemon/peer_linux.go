package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// peerOf reads the peer's credentials from the kernel (SO_PEERCRED).
func peerOf(c net.Conn) (peerInfo, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peerInfo{}, fmt.Errorf("not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peerInfo{}, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peerInfo{}, err
	}
	if serr != nil {
		return peerInfo{}, fmt.Errorf("so_peercred: %w", serr)
	}
	return peerInfo{UID: int(cred.Uid), PID: int(cred.Pid)}, nil
}

// exeOf returns the executable path of pid, or "" if it cannot be read.
func exeOf(pid int) string {
	if pid <= 0 {
		return ""
	}
	p, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return ""
	}
	return p
}
