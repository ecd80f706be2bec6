//go:build unix

package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `lwtoken-helperd run` under a service manager (Type=notify): READY=1 once it listens,
// STATUS= lines that follow the token cache (after a request, and after a SIGHUP reload
// that no request announces), STOPPING=1 on SIGTERM. The manager's socket is a real
// datagram socket named by NOTIFY_SOCKET, as systemd sets it.
func TestRunTellsTheServiceManager(t *testing.T) {
	x := newH(t)
	x.setup()
	addr := filepath.Join(x.dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- string(buf[:n])
		}
	}()
	var seen []string
	await := func(what string, match func(string) bool) {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case m, ok := <-got:
				if !ok {
					t.Fatalf("waiting for %s: the socket closed; saw %q", what, seen)
				}
				seen = append(seen, m)
				if match(m) {
					return
				}
			case <-timeout:
				t.Fatalf("waited 15 s for %s; the daemon sent %q\n%s", what, seen, x.log())
			}
		}
	}
	x.startDaemonEnv([]string{"NOTIFY_SOCKET=" + addr}, nil)
	await("READY=1", func(m string) bool { return strings.HasPrefix(m, "READY=1\nSTATUS=") })
	x.getToken()
	await("a status line with the token", func(m string) bool { return strings.HasPrefix(m, "STATUS=1 token valid, next renewal ") })

	// A reload that drops the profile: no request follows it, the status line changes anyway.
	if err := os.WriteFile(x.config, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	x.daemon.Process.Signal(syscall.SIGHUP)
	await("the status after the reload", func(m string) bool { return strings.HasPrefix(m, "STATUS=no profile configured") })

	x.daemon.Process.Signal(syscall.SIGTERM)
	await("STOPPING=1", func(m string) bool { return strings.HasPrefix(m, "STOPPING=1\n") })
	for _, m := range seen {
		if strings.Contains(m, x.secret) {
			t.Fatalf("a notification holds the secret: %q", m)
		}
	}
}
