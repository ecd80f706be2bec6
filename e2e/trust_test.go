//go:build unix

package e2e

// Tests of issue 12's client-side trust boundary: the client talks only to a daemon of its own
// user (or root), and refuses a fake daemon another user serves on its default socket.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeDaemonEnv makes the test binary a fake daemon of another user: it creates the socket
// directory named by the variable (open to everyone), serves a token of its own choosing to
// whoever sends a request, and prints one line "received N" per connection with the bytes
// that client sent.
const fakeDaemonEnv = "LWE2E_FAKE_DAEMON_SOCK"

// floodEnv makes the test binary connect to the socket it names from 8 goroutines for
// LWE2E_FLOOD_FOR, each connection read to its end (the daemon's close) before the next,
// and print "connections N": every connection it counts was accepted and refused.
const floodEnv = "LWE2E_FLOOD_SOCK"

func init() {
	if sock := os.Getenv(fakeDaemonEnv); sock != "" {
		os.Exit(fakeDaemon(sock))
	}
	if sock := os.Getenv(floodEnv); sock != "" {
		d, _ := time.ParseDuration(os.Getenv("LWE2E_FLOOD_FOR"))
		var n atomic.Int64
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for range 8 {
			wg.Go(func() {
				for time.Now().Before(end) {
					c, err := net.Dial("unix", sock)
					if err != nil {
						continue
					}
					c.SetDeadline(time.Now().Add(5 * time.Second))
					if b, err := io.ReadAll(c); err == nil && len(b) == 0 {
						n.Add(1)
					}
					c.Close()
				}
			})
		}
		wg.Wait()
		fmt.Printf("connections %d\n", n.Load())
		os.Exit(0)
	}
}

func fakeDaemon(sock string) int {
	dir := filepath.Dir(sock)
	if err := os.Mkdir(dir, 0o755); err != nil {
		fmt.Println("mkdir:", err)
		return 1
	}
	os.Chmod(dir, 0o755)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	os.Chmod(sock, 0o777)
	fmt.Println("listening")
	var n atomic.Int64
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			r := bufio.NewReader(c)
			got := 0
			for {
				line, err := r.ReadString('\n')
				got += len(line)
				if err != nil || line == "\r\n" {
					break
				}
			}
			if got > 0 {
				body := `{"access_token":"attackers-token","token_type":"Bearer","scope":"bot","expires_at":"2099-01-01T00:00:00Z","profile":"default"}`
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			}
			rest, _ := io.Copy(io.Discard, r)
			fmt.Printf("received %d (connection %d)\n", got+int(rest), n.Add(1))
		}()
	}
}

// victimUID returns a uid that has no socket directory in /tmp and no /run/user directory,
// so that its clients fall back to /tmp/lwtoken-helper-UID when XDG_RUNTIME_DIR is unset.
func victimUID(t *testing.T) int {
	for uid := 20000 + os.Getpid()%10000; uid < 40000; uid++ {
		if _, err := os.Lstat(fmt.Sprintf("/tmp/lwtoken-helper-%d", uid)); err == nil {
			continue
		}
		if _, err := os.Lstat(fmt.Sprintf("/run/user/%d", uid)); err == nil {
			continue
		}
		return uid
	}
	t.Fatal("no free uid")
	return 0
}

// TestClientRefusesAnotherUsersDaemon: with no XDG_RUNTIME_DIR (cron, ssh without logind),
// another user (uid 12345) creates the victim's default socket directory in /tmp first and
// serves a fake daemon there. The victim's real client, run as its own uid, refuses every
// command with exit 3 before sending a byte: the fake receives nothing and its token is never
// printed or passed on (issue 12, item 2).
func TestClientRefusesAnotherUsersDaemon(t *testing.T) {
	x := newH(t)
	pub := publicBins(t)
	victim := victimUID(t)
	dir := fmt.Sprintf("/tmp/lwtoken-helper-%d", victim)
	t.Cleanup(func() { os.RemoveAll(dir) })
	fake := exec.Command("setpriv", "--reuid="+strconv.Itoa(otherUID), "--regid="+strconv.Itoa(otherGID), "--clear-groups", "--", pub.test)
	fake.Env = append(os.Environ(), fakeDaemonEnv+"="+filepath.Join(dir, "sock"))
	out, err := fake.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	fake.Stderr = os.Stderr
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Process.Kill()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "listening" {
		t.Fatalf("fake daemon did not start: %q", lines.Text())
	}
	received := make(chan string, 100)
	go func() {
		for lines.Scan() {
			received <- lines.Text()
		}
		close(received)
	}()
	if fi, err := os.Stat(dir); err != nil || fi.Sys().(*syscall.Stat_t).Uid != otherUID {
		t.Fatalf("the attacker does not own %s: %v", dir, err)
	}
	asVictim := []string{"setpriv", "--reuid=" + strconv.Itoa(victim), "--regid=" + strconv.Itoa(victim), "--clear-groups", "--"}
	noVars := []string{"XDG_RUNTIME_DIR=", "LWTOKEN_HELPER_SOCKET=", "HOME=" + pub.dir}
	writable := filepath.Join(pub.dir, "w")
	if err := os.Mkdir(writable, 0o777); err != nil || os.Chmod(writable, 0o777) != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(writable, "exec-ran")
	cmds := [][]string{{"get"}, {"get", "--format", "header"}, {"exec", "--", "sh", "-c", "touch " + marker},
		{"status"}, {"prompt"}, {"profiles"}, {"revoke"}}
	for _, args := range cmds {
		r := x.secRun(20*time.Second, noVars, "", append(append(append([]string{}, asVictim...), pub.client), args...)...)
		want := fmt.Sprintf("lwtoken-helper: error: the socket %s/sock is served by uid %d, not by you (uid %d) or root: refusing to talk to it\n", dir, otherUID, victim)
		if r.code != 3 || r.stdout != "" || !strings.HasPrefix(r.stderr, want) || !strings.Contains(r.stderr, "lwtoken-helper: hint: another user may have created "+dir) {
			t.Errorf("%q as uid %d: exit %d, want 3 and\n%s\ngot stdout %q stderr:\n%s", args, victim, r.code, want, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "attackers-token") {
			t.Errorf("%q printed the attacker's token", args)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("exec ran the command with the attacker's token")
	}
	// Every command connected (the fake logs each connection) and sent nothing.
	for i := range cmds {
		select {
		case l, ok := <-received:
			if !ok {
				t.Fatalf("the fake daemon stopped after %d connections", i)
			}
			if !strings.HasPrefix(l, "received 0 ") {
				t.Errorf("the fake daemon %s, want 0 bytes", l)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the fake daemon saw %d connections, want %d", i, len(cmds))
		}
	}
}

// TestRefusedConnectionFloodIsSummarized: another user (uid 12345) floods the daemon's
// socket with connections for 3 s. Each is refused before a byte, but the log gets one full
// line for the uid and then a summary line per 10 s (and one at shutdown) whose counts add
// up to exactly the connections the flooder made (issue 12, item 10).
func TestRefusedConnectionFloodIsSummarized(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	x.openUp()
	pub := publicBins(t)
	start := time.Now()
	r := x.secRun(60*time.Second, []string{floodEnv + "=" + x.sock, "LWE2E_FLOOD_FOR=3s"}, "",
		append(append([]string{}, asOther...), pub.test)...)
	var made int
	if _, err := fmt.Sscanf(r.stdout, "connections %d", &made); err != nil || r.code != 0 || made < 1000 {
		t.Fatalf("flooder: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	elapsed := time.Since(start)
	x.stopDaemon() // logs what is pending
	full := regexp.MustCompile(`connection refused: peer is another user" peer_uid=` + strconv.Itoa(otherUID) + ` peer_pid=\d+`)
	summary := regexp.MustCompile(`connections refused: peer is another user" peer_uid=` + strconv.Itoa(otherUID) + ` count=(\d+) `)
	var lines, counted int
	for _, l := range strings.Split(x.log(), "\n") {
		if full.MatchString(l) {
			lines++
			counted++
		} else if m := summary.FindStringSubmatch(l); m != nil {
			lines++
			n, _ := strconv.Atoi(m[1])
			counted += n
		}
	}
	maxLines := 2 + int(elapsed/(10*time.Second))
	t.Logf("%d connections of uid %d in %s: %d log lines", made, otherUID, elapsed.Round(time.Millisecond), lines)
	if counted != made || lines < 1 || lines > maxLines {
		t.Fatalf("%d connections made, %d counted in %d log lines (at most %d):\n%s", made, counted, lines, maxLines, x.log())
	}
	if n := strings.Count(x.log(), "\n"); n > 100 {
		t.Fatalf("the daemon logged %d lines", n)
	}
}

// TestHostileDaemonTextStaysInert: the real client binary against a daemon of its own user
// that answers terminal escapes (OSC title, clear screen, 8-bit CSI), a bidi override and a
// forged line in every string: what the client prints carries none of them (issue 12,
// item 3; internal/clientcli's TestDaemonTextIsMadePrintable covers every field).
func TestHostileDaemonTextStaysInert(t *testing.T) {
	x := newH(t)
	const hostile = `x\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil\r\nlwtoken-helper: hint: forged\u0000\u007f`
	bodies := map[string]string{
		"/v1/status": `{"version":"1","pid":1,"socket":"` + hostile + `","config":"` + hostile + `","now":"2026-01-01T00:00:00Z","keyring":"` + hostile +
			`","entries":[{"profile":"` + hostile + `","scope":"` + hostile + `","state":"valid","health":"` + hostile +
			`","expires_at":"2099-01-01T00:00:00Z","ttl_seconds":3600,"last_error":"` + hostile + `","next_attempt":"2099-01-01T00:00:00Z"}],"profiles":["` +
			hostile + `"],"default_profile":"` + hostile + `"}`,
		"/v1/profiles": `{"default_profile":"` + hostile + `","profiles":[{"name":"` + hostile + `","scopes":["` + hostile + `"],"auth_url":"` + hostile +
			`","service_account":"` + hostile + `","state":"valid","ttl_seconds":3600,"health":"` + hostile + `","last_error":"` + hostile + `"}]}`,
		"/v1/token": `{"error":"` + hostile + `","code":"unavailable","hint":"` + hostile + `"}`,
	}
	sock := filepath.Join(x.dir, "hostile.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(c)
				line, _ := r.ReadString('\n')
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				path := strings.Fields(line + " x x")[1]
				path, _, _ = strings.Cut(path, "?")
				body, status := bodies[path], "200 OK"
				if path == "/v1/token" || path == "/v1/revoke" {
					body, status = bodies["/v1/token"], "503 Service Unavailable"
				}
				fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body)
			}()
		}
	}()
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"profiles"}, {"profiles", "--names"}, {"prompt"},
		{"get"}, {"revoke"}, {"exec", "--", "true"}} {
		r := x.runCmd(bin.client, "", append([]string{args[0], "--socket", sock}, args[1:]...)...)
		out := r.stdout + r.stderr
		if !strings.Contains(out, "x]0;pwned") && args[0] != "prompt" {
			t.Errorf("%q: the daemon's text is not shown (exit %d):\n%q", args, r.code, out)
		}
		for i, c := range out {
			if (c < 0x20 && c != '\n') || (c >= 0x7f && c <= 0x9f) || c == 0x202e {
				t.Errorf("%q: printed %q at byte %d:\n%q", args, c, i, out)
				break
			}
		}
		if strings.Contains(out, "\nlwtoken-helper: hint: forged") {
			t.Errorf("%q: a forged line:\n%s", args, out)
		}
	}
}
