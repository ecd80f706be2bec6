//go:build linux

package e2e

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// The test binary doubles as a wrapper that starts the daemon the way a service manager or
// a container runtime would, for the kernel keyring: kernelWrapEnv=newsession gives it a
// new anonymous session keyring (systemd's KeyringMode=private: the user keyring is not
// possessed); kernelWrapEnv=nokeyctl installs a seccomp filter that fails keyctl, add_key
// and request_key with EPERM (Docker's default profile, systemd-nspawn's filter). The rest
// of the command line is the command to exec.
const kernelWrapEnv = "LWE2E_KERNEL_WRAP"

func init() {
	mode := os.Getenv(kernelWrapEnv)
	if mode == "" {
		return
	}
	os.Unsetenv(kernelWrapEnv)
	runtime.LockOSThread() // the filter is per thread; exec keeps this one
	switch mode {
	case "newsession":
		if _, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0); e != 0 {
			fmt.Fprintln(os.Stderr, "join a new session keyring:", e)
			os.Exit(2)
		}
	case "nokeyctl":
		if err := denyKeyctl(); err != nil {
			fmt.Fprintln(os.Stderr, "seccomp:", err)
			os.Exit(2)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown", kernelWrapEnv)
		os.Exit(2)
	}
	prog, err := exec.LookPath(os.Args[1])
	if err == nil {
		err = syscall.Exec(prog, os.Args[1:], os.Environ())
	}
	fmt.Fprintln(os.Stderr, "exec:", err)
	os.Exit(2)
}

// denyKeyctl makes keyctl(2), add_key(2) and request_key(2) fail with EPERM for this
// thread and what it execs, as a container runtime's seccomp profile does.
func denyKeyctl() error {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	filter := []unix.SockFilter{
		{Code: ldAbs, K: 0}, // seccomp_data.nr
		{Code: jeq, Jt: 3, Jf: 0, K: unix.SYS_KEYCTL},
		{Code: jeq, Jt: 2, Jf: 0, K: unix.SYS_ADD_KEY},
		{Code: jeq, Jt: 1, Jf: 0, K: unix.SYS_REQUEST_KEY},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0)
}

func (x *h) wrapKernel(mode string) {
	self, err := os.Executable()
	if err != nil {
		x.t.Fatal(err)
	}
	x.wrap = []string{"env", kernelWrapEnv + "=" + mode, self}
}

// userKeys returns every key in the user keyring of this uid: description and payload.
func userKeys(t *testing.T) map[string][]byte {
	t.Helper()
	buf := make([]byte, 1<<16)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, unix.KEY_SPEC_USER_KEYRING, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for i := 0; i+4 <= min(n, len(buf)); i += 4 {
		id := int(int32(binary.NativeEndian.Uint32(buf[i:])))
		desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
		if err != nil {
			continue // expired or not ours to see
		}
		p := make([]byte, 1<<16)
		m, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, p, 0)
		if err != nil {
			out[desc] = nil
			continue
		}
		out[desc] = p[:min(m, len(p))]
	}
	return out
}

// kernelNS is the description prefix of the items of the daemon on sock.
func kernelNS(sock string) string {
	sum := sha256.Sum256([]byte(sock))
	return "lwtoken-helper:" + hex.EncodeToString(sum[:4]) + ":"
}

func dropKernelItems(sock string) {
	buf := make([]byte, 1<<16)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, unix.KEY_SPEC_USER_KEYRING, buf, 0)
	if err != nil {
		return
	}
	for i := 0; i+4 <= min(n, len(buf)); i += 4 {
		id := int(int32(binary.NativeEndian.Uint32(buf[i:])))
		if d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id); err == nil && strings.Contains(d, ";"+kernelNS(sock)) {
			unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0)
		}
	}
}

// In the files mode the current token is cached in the kernel keyring: a restarted daemon
// (each one in a new session keyring, as under a system unit's KeyringMode=private) serves
// it without minting. The keyring holds the token, with the documented permissions and a
// timeout, and never the client secret or any piece of the private key.
func TestFilesModeKernelKeyringRestartMintsNothing(t *testing.T) {
	x, kw, _ := filesWorld(t)
	t.Cleanup(func() { dropKernelItems(x.sock) })
	x.wrapKernel("newsession")
	x.startDaemon("--credentials-dir", kw.Dir)
	tok := x.getToken()
	if st := x.statusJSON(); !strings.HasPrefix(st.TokenCache, "kernel keyring (user keyring of uid ") {
		t.Fatalf("token cache: %q\n%s", st.TokenCache, x.log())
	}
	x.stopDaemon()
	x.startDaemon("--credentials-dir", kw.Dir)
	if got := x.getToken(); got != tok {
		t.Fatalf("the restarted daemon served another token")
	}
	if n := x.fake.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests across a restart, want 1:\n%s", n, x.log())
	}
	if !strings.Contains(x.log(), "token loaded from keyring") {
		t.Fatalf("the restarted daemon did not load the token:\n%s", x.log())
	}

	keys := userKeys(t)
	ns := kernelNS(x.sock)
	var ours []string
	for desc, payload := range keys {
		// Whatever is in the user keyring, ours or not: never our secret or key.
		if strings.Contains(string(payload), x.secret) || strings.Contains(desc, x.secret) {
			t.Fatalf("the client secret is in the kernel keyring (%q)", desc)
		}
		pemBytes, _ := os.ReadFile(x.keyFile)
		for _, line := range strings.Split(string(pemBytes), "\n") {
			if len(line) >= 16 && strings.Contains(string(payload), line) {
				t.Fatalf("a line of the private key is in the kernel keyring (%q)", desc)
			}
		}
		if strings.Contains(desc, ns) {
			ours = append(ours, desc)
			if !strings.Contains(string(payload), tok) && !strings.HasSuffix(desc, "/token-index") {
				t.Fatalf("%q holds no token", desc)
			}
			// user;UID;GID;PERM;DESCRIPTION
			if f := strings.SplitN(desc, ";", 5); len(f) != 5 || f[3] != "3f0b0000" {
				t.Fatalf("permissions of %q, want 3f0b0000", desc)
			}
		}
	}
	if len(ours) != 2 {
		t.Fatalf("the daemon's items in the user keyring: %q, want the token and its index", ours)
	}
	t.Logf("the daemon's items in the kernel user keyring: %q", ours)
	// The token's key times out with the token (/proc/keys: ID FLAGS USAGE TIMEOUT ...).
	procKeys, err := os.ReadFile("/proc/keys")
	if err != nil {
		t.Fatal(err)
	}
	timed := false
	for _, line := range strings.Split(string(procKeys), "\n") {
		if f := strings.Fields(line); len(f) > 3 && strings.Contains(line, ns+"profile/"+x.profile+"/token/") {
			t.Logf("/proc/keys: %s", line)
			timed = f[3] == "1d" || strings.HasSuffix(f[3], "h") // about 24 hours left
		}
	}
	if !timed {
		t.Fatalf("the token's key has no timeout at the token's expiry:\n%s", procKeys)
	}
}

// Where keyctl is blocked by a seccomp filter (as in Docker or systemd-nspawn), the daemon
// runs with tokens in memory and says so in exactly one line; get works.
func TestFilesModeKeyctlBlocked(t *testing.T) {
	x, kw, _ := filesWorld(t)
	x.wrapKernel("nokeyctl")
	x.startDaemon("--credentials-dir", kw.Dir)
	x.getToken()
	x.getToken("--scope", "bot")
	x.stopDaemon()
	if n := strings.Count(x.log(), keystore.KernelKeyringUnavailable); n != 1 {
		t.Fatalf("%d lines saying %q, want 1:\n%s", n, keystore.KernelKeyringUnavailable, x.log())
	}
	for _, line := range strings.Split(x.log(), "\n") {
		if strings.Contains(line, keystore.KernelKeyringUnavailable) {
			t.Logf("the line: %s", line)
			if !strings.Contains(line, "operation not permitted") {
				t.Fatalf("the line does not say why: %s", line)
			}
		}
		if strings.Contains(line, "level=ERROR") {
			t.Fatalf("an error was logged: %s", line)
		}
	}
}
