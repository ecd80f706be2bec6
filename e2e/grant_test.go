//go:build unix

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestInjectedTokenNeverReachesAHeader: a token endpoint answers with an access token that
// carries a header line ("tok\r\nX-Injected: 1"). The daemon refuses it where it enters:
// nothing is cached or served (not even through the raw socket API, which bypasses the
// client's own check), `get` fails with exit 6 and status shows why, and
// `curl -H "$(lwtoken-helper get --format header)"` sends no second header to a local HTTP
// server (issue 12, item 4).
func TestInjectedTokenNeverReachesAHeader(t *testing.T) {
	x := newH(t)
	var asked atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok\r\nX-Injected: 1","token_type":"Bearer","expires_in":"86400","scope":"bot user.read"}`)
	}))
	defer evil.Close()
	// A resource server that records the raw header lines it receives.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(c)
			var head strings.Builder
			for {
				l, err := r.ReadString('\n')
				head.WriteString(l)
				if err != nil || l == "\r\n" {
					break
				}
			}
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
			c.Close()
			got <- head.String()
		}
	}()
	x.setup("--auth-url", evil.URL)
	x.startDaemon()

	r := x.helper("get", "--format", "header")
	if r.code != 6 || r.stdout != "" || !strings.Contains(r.stderr, "lwtoken-helper: error: line works answered with an unusable token") ||
		!strings.Contains(r.stderr, "not a valid bearer token") || strings.Contains(r.stderr, "Injected") {
		t.Fatalf("get --format header: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	script := `curl -sS -o /dev/null -H "$("$0" get --format header)" "$1"`
	cmd := exec.Command("sh", "-c", script, bin.client, "http://"+ln.Addr().String()+"/v1.0/users/me")
	cmd.Env = x.env()
	out, _ := cmd.CombinedOutput()
	select {
	case head := <-got:
		if strings.Contains(strings.ToLower(head), "x-injected") || strings.Contains(head, "tok") {
			t.Fatalf("the resource server received an injected header:\n%q\n(curl: %s)", head, out)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("curl sent nothing: %s", out)
	}
	// The raw socket API (what curl --unix-socket and other languages use) serves no token.
	raw, err := exec.Command("curl", "-sS", "--unix-socket", x.sock, "http://lwtoken-helper/v1/token").CombinedOutput()
	if err != nil || !strings.Contains(string(raw), `"code":"unavailable"`) || strings.Contains(string(raw), "Injected") {
		t.Fatalf("raw socket: %v: %s", err, raw)
	}
	e, _ := x.entryStatus(x.profile, "bot user.read")
	if e.State != "missing" || !strings.Contains(e.LastError, "not a valid bearer token") {
		t.Fatalf("status: %+v", e)
	}
	// Asked once, then on the slow schedule: the three gets above did not ask again.
	if n := asked.Load(); n != 1 {
		t.Fatalf("the endpoint was asked %d times", n)
	}
	if strings.Contains(x.log(), "Injected") {
		t.Fatalf("the daemon logged the token:\n%s", x.log())
	}
}
