//go:build unix

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// getToken runs `lwtoken-helper get` and checks the token is valid at the endpoint.
func (x *h) getToken(args ...string) string {
	x.t.Helper()
	r := x.helper(append([]string{"get"}, args...)...)
	if r.code != 0 {
		x.t.Fatalf("get: exit %d: %s\ndaemon log:\n%s", r.code, r.stderr, x.log())
	}
	if r.stderr != "" {
		x.t.Fatalf("get wrote to stderr: %q", r.stderr)
	}
	tok := strings.TrimSuffix(r.stdout, "\n")
	if strings.ContainsAny(tok, " \n") || !x.fake.Valid(tok) {
		x.t.Fatalf("get printed %q: not exactly one valid token and a newline", r.stdout)
	}
	if strings.Contains(x.log(), tok) {
		x.t.Fatal("the daemon logged the access token")
	}
	return tok
}

func TestSetupRunGet(t *testing.T) {
	x := newH(t)
	x.setup()
	cfg, _ := os.ReadFile(x.config)
	if strings.Contains(string(cfg), x.secret) || strings.Contains(string(cfg), "PRIVATE KEY") {
		t.Fatal("a secret was written to the config file")
	}
	if !strings.Contains(string(cfg), x.clientID) || !strings.Contains(string(cfg), `domain_id = "12345"`) {
		t.Fatalf("config lacks the profile:\n%s", cfg)
	}
	x.startDaemon()
	tok := x.getToken()
	if again := x.getToken(); again != tok {
		t.Fatal("second get minted a new token")
	}
	if n := x.fake.TokenRequests(); n != 1 {
		t.Fatalf("upstream requests = %d, want 1", n)
	}
	r := x.helper("status", "--json")
	var st client.Status
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		t.Fatalf("status --json: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if len(st.Entries) != 1 || st.Entries[0].State != "valid" || st.Entries[0].Profile != x.profile || st.Keyring != "ok" {
		t.Fatalf("status: %+v", st)
	}
	if strings.Contains(r.stdout, tok) {
		t.Fatal("status prints the token")
	}
	r = x.helper("status")
	if r.code != 0 || !strings.Contains(r.stdout, x.profile) || !strings.Contains(r.stdout, "valid") {
		t.Fatalf("status: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(x.log(), "token served") || !strings.Contains(x.log(), "peer_pid=") {
		t.Fatalf("no audit line in the log:\n%s", x.log())
	}
}

func TestConcurrentColdGetProcessesMintOnce(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	x.fake.SetDelay(300 * time.Millisecond) // the flight stays open while the processes start
	const n = 200
	var wg sync.WaitGroup
	toks := make([]string, n)
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := x.helper("get")
			toks[i], codes[i] = strings.TrimSpace(r.stdout), r.code
		}()
	}
	wg.Wait()
	for i := range n {
		if codes[i] != 0 || toks[i] != toks[0] {
			t.Fatalf("process %d: exit %d, same token %v", i, codes[i], toks[i] == toks[0])
		}
	}
	if got := x.fake.TokenRequests(); got != 1 {
		t.Fatalf("%d cold get processes caused %d token requests, want 1", n, got)
	}
}

func TestRestartWithValidTokenMintsNothing(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	tok := x.getToken()
	x.stopDaemon()
	if _, err := os.Lstat(x.sock); !os.IsNotExist(err) {
		t.Fatalf("SIGTERM left the socket behind: %v", err)
	}
	x.startDaemon()
	if got := x.getToken(); got != tok {
		t.Fatal("restarted daemon served another token")
	}
	if n := x.fake.TokenRequests(); n != 1 {
		t.Fatalf("upstream requests across a restart = %d, want 1", n)
	}
}

func TestKill9MidRenewalLeavesKeyringConsistent(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	tok := x.getToken()
	// Past the renewal point, with LINE WORKS slow: the renewal is in flight when we kill.
	x.fake.SetDelay(3 * time.Second)
	x.setClock(20 * time.Hour)
	if got := x.getToken(); got != tok {
		t.Fatal("during renewal the cached token should be served")
	}
	for end := time.Now().Add(5 * time.Second); x.fake.TokenRequests() < 2 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	x.kill9()
	x.fake.SetDelay(0)
	x.startDaemon()
	// The stored token is the old one, still valid (4 h left): served with no new request
	// at once, and renewed in the background since it is past its renewal point.
	if got := x.getToken(); got != tok {
		t.Fatalf("after kill -9 the next daemon did not serve the stored token")
	}
	x.setClock(30 * time.Hour) // now expired: the next daemon mints
	x.stopDaemon()
	x.startDaemon()
	fresh := x.getToken()
	if fresh == tok {
		t.Fatal("an expired token was served")
	}
}

func TestErrorPathsExitCodes(t *testing.T) {
	x := newH(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no daemon", []string{"get"}, 3, []string{"lwtoken-helper: error: cannot reach the daemon", "lwtoken-helper: hint: start it with `lwtoken-helperd run`"}},
		{"unknown command", []string{"frob"}, 2, []string{`unknown command "frob"`, "hint:"}},
		{"bad flag", []string{"get", "--nope"}, 2, []string{"flag provided but not defined", "hint:"}},
		{"stray arg", []string{"get", "extra"}, 2, []string{"unexpected argument (5 characters, not shown)"}},
		{"no args", nil, 2, []string{"usage:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := x.helper(tc.args...)
			checkErr(t, r, tc.code, tc.want...)
		})
	}
	x.setup()
	x.startDaemon()
	for _, tc := range []struct {
		name  string
		args  []string
		setup func()
		code  int
		want  []string
	}{
		{"unknown profile", []string{"get", "--profile", "nope"}, nil, 4, []string{`profile "nope" is not configured`, "hint: run `lwtoken-helperd setup --profile nope"}},
		{"scope outside profile", []string{"get", "--scope", "directory.read"}, nil, 2, []string{`scope "directory.read" is not among`}},
		{"min-ttl impossible", []string{"get", "--min-ttl", "25h"}, nil, 2, []string{"can never be met"}},
		{"line works down", []string{"get"}, func() { x.fake.FailNext(-1, lwfake.Failure{Status: 503}) }, 6, []string{"line works is unreachable and no valid token is cached", "503", "hint:"}},
		{"rejected", []string{"get", "--scope", "bot"}, func() {
			x.fake.ClearFailures()
			x.fake.FailNext(1, lwfake.Failure{Status: 401, Code: "invalid_client", Description: "client authentication failed"})
		}, 5, []string{"line works rejected the request", "invalid_client", "hint: check the client id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			r := x.helper(tc.args...)
			checkErr(t, r, tc.code, tc.want...)
		})
	}
	// Setup failures: nothing is written.
	before, _ := os.ReadFile(x.config)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"bad key", []string{"setup", "--profile", "p2", "--client-id", "c", "--service-account", "a@b", "--scope", "bot", "--private-key-file", x.secretFile}, "s\n", 2, "no PEM block found"},
		{"missing flags", []string{"setup", "--profile", "p3"}, "", 2, "needs --client-id, --service-account, --scope, --private-key-file"},
		{"empty secret", []string{"setup", "--profile", "p4", "--client-id", "c", "--service-account", "a@b", "--scope", "bot", "--private-key-file", x.keyFile}, "", 2, "client secret: empty"},
		{"secret as argument", []string{"setup", "--profile", "p5", "sekrit"}, "", 2, "never taken as arguments"},
	} {
		t.Run("setup "+tc.name, func(t *testing.T) {
			r := x.runCmd(bin.daemon, tc.stdin, tc.args...)
			checkErrProg(t, "lwtoken-helperd", r, tc.code, tc.want)
		})
	}
	if after, _ := os.ReadFile(x.config); string(after) != string(before) {
		t.Fatal("a failed setup changed the config")
	}
}

func checkErr(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	checkErrProg(t, "lwtoken-helper", r, code, want...)
}

func checkErrProg(t *testing.T, prog string, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, code, r.stderr)
	}
	if r.stdout != "" && code != 2 {
		t.Fatalf("stdout on error: %q", r.stdout)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if code != 2 || strings.Contains(r.stderr, "error:") {
		if !strings.HasPrefix(lines[0], prog+": error: ") {
			t.Fatalf("first line %q is not %q", lines[0], prog+": error: ...")
		}
		msg := strings.TrimPrefix(lines[0], prog+": error: ")
		if msg == "" || strings.ToLower(msg[:1]) != msg[:1] {
			t.Fatalf("error not lowercase: %q", msg)
		}
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

func TestSetupUpdateAndReload(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	x.getToken()
	// Re-running setup with new scopes reloads the running daemon; no restart.
	r := x.runCmd(bin.daemon, "", "setup", "--profile", x.profile, "--scope", "bot")
	if r.code != 0 || !strings.Contains(r.stdout, "reloaded") {
		t.Fatalf("setup update: %d %s %s", r.code, r.stdout, r.stderr)
	}
	tok := x.getToken()
	if r := x.helper("get", "--scope", "user.read"); r.code != 2 {
		t.Fatalf("scope removed by setup still allowed: %d", r.code)
	}
	_ = tok
	if _, err := os.Stat(filepath.Join(x.dir, "config.toml")); err != nil {
		t.Fatal(err)
	}
}
