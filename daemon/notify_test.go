//go:build unix

package daemon

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// notifyListener is a stand-in for systemd's notification socket.
func notifyListener(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readDatagram(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifier(t *testing.T) {
	dir, err := os.MkdirTemp("", "lwn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	addrs := []string{filepath.Join(dir, "notify")}
	if runtime.GOOS == "linux" {
		addrs = append(addrs, "@lwtoken-helper-test-"+filepath.Base(dir)) // abstract, as systemd may use
	}
	for _, addr := range addrs {
		l := notifyListener(t, addr)
		n := newNotifierAt(addr)
		if !n.Enabled() {
			t.Fatal("not enabled")
		}
		if err := n.Ready("1 token valid,\nnext renewal 13:52"); err != nil {
			t.Fatal(err)
		}
		if got, want := readDatagram(t, l), "READY=1\nSTATUS=1 token valid, next renewal 13:52"; got != want {
			t.Fatalf("%s: ready sent %q, want %q (a newline in a status must not start a new assignment)", addr, got, want)
		}
		if err := n.Status("2 tokens valid"); err != nil {
			t.Fatal(err)
		}
		if got := readDatagram(t, l); got != "STATUS=2 tokens valid" {
			t.Fatalf("status sent %q", got)
		}
		if err := n.Stopping(); err != nil {
			t.Fatal(err)
		}
		if got := readDatagram(t, l); !strings.HasPrefix(got, "STOPPING=1\n") {
			t.Fatalf("stopping sent %q", got)
		}
		n.Close()
	}
}

func TestNotifierNoSocketIsNoop(t *testing.T) {
	t.Setenv(envNotifySocket, "")
	for _, n := range []*Notifier{nil, {}, NewNotifier(), newNotifierAt("")} {
		if n.Enabled() || n.Ready("x") != nil || n.Status("x") != nil || n.Stopping() != nil || n.Close() != nil {
			t.Fatalf("%#v is not a no-op", n)
		}
	}
}

func TestNotifierErrors(t *testing.T) {
	if err := newNotifierAt("relative/path").Ready("x"); err == nil || !strings.HasPrefix(err.Error(), "sd_notify: ") {
		t.Fatalf("relative path: %v", err)
	}
	gone := filepath.Join(t.TempDir(), "gone")
	if err := newNotifierAt(gone).Status("x"); err == nil || !strings.HasPrefix(err.Error(), "sd_notify: ") {
		t.Fatalf("missing socket: %v", err)
	}
}
