//go:build unix

package e2e

// Tests of the token's consumers, each run with the real consumer: curl, jq, eval in bash,
// exec'd processes and signals, an interactive bash and zsh in tmux reading the prompt,
// shell completion functions in bash, zsh and fish, Python and Node over the socket.
// Snippets shown in docs/usage.md are read from it and run as they stand.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// realAPI is the LINE WORKS API base the docs show; tests point it at a local server.
const realAPI = "https://www.worksapis.com/v1.0"

// snippet returns the fenced block that follows "<!-- test: name -->" in docs/usage.md.
func docSnippet(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../docs/usage.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- test: "+name+" -->\n```")
	if !ok {
		t.Fatalf("docs/usage.md has no snippet %q", name)
	}
	_, body, _ := strings.Cut(rest, "\n")
	body, _, ok = strings.Cut(body, "\n```\n")
	if !ok {
		t.Fatalf("snippet %q is not closed", name)
	}
	return body + "\n"
}

// checkedAPI is the fake's LINE WORKS resource API (lwfake: 200 {"ok":true} to a token
// the fake issued and that is still valid, 401 or 403 UNAUTHORIZED to any other) on a
// server of its own that also records every request's Authorization headers, joined
// by "|", so a test can see that exactly one Bearer header arrived.
type checkedAPI struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func (x *h) checkedAPI() *checkedAPI {
	a := &checkedAPI{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.auths = append(a.auths, strings.Join(r.Header.Values("Authorization"), "|"))
		a.mu.Unlock()
		x.fake.ServeHTTP(w, r)
	}))
	x.t.Cleanup(a.Close)
	return a
}

func (a *checkedAPI) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auths...)
}

// shellEnv is the test's environment with the client binary first on PATH, plus extra
// (KEY=VALUE; a KEY= with no value removes KEY).
func (x *h) shellEnv(extra ...string) []string {
	env := append(x.env(), "PATH="+bin.dir+string(os.PathListSeparator)+os.Getenv("PATH"), "HISTFILE=/dev/null")
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		kept := env[:0]
		for _, e := range env {
			if !strings.HasPrefix(e, k+"=") {
				kept = append(kept, e)
			}
		}
		env = kept
		if v != "" {
			env = append(env, kv)
		}
	}
	return env
}

// run runs argv to completion with stdin and the shell environment plus extra.
func (x *h) run(stdin string, extra []string, argv ...string) result {
	x.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = x.shellEnv(extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		x.t.Fatalf("%v: %v", argv, err)
	}
	x.logMu.Lock()
	x.printed.WriteString(out.String() + errb.String())
	x.logMu.Unlock()
	return result{out.String(), errb.String(), code}
}

// bash runs a bash script (with -e -u -o pipefail).
func (x *h) bash(script string, extra ...string) result {
	x.t.Helper()
	return x.run("", extra, "bash", "-euo", "pipefail", "-c", script)
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test.sh installs it)", tool)
		}
	}
}

func TestGetFormatsFedToTheirConsumers(t *testing.T) {
	needTools(t, "curl", "jq", "bash", "date")
	x := newH(t)
	x.setup()
	x.startDaemon()
	api := x.checkedAPI()
	tok := x.getToken()

	// header: curl -H "$(...)" and curl -H @- (stdin)
	r := x.bash(`curl -sS -f -H "$(lwtoken-helper get --format header)" "$API/users/me"; echo
lwtoken-helper get --format header | curl -sS -f -H @- "$API/users/me"`, "API="+api.URL+"/v1.0")
	if r.code != 0 || r.stdout != "{\"ok\":true}\n{\"ok\":true}" {
		t.Fatalf("curl with the header: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	for _, a := range api.seen() {
		if a != "Bearer "+tok {
			t.Fatalf("the API saw Authorization %q, want exactly one Bearer header with the token", a)
		}
	}

	// json: jq reads every field, and the expiry as an RFC 3339 date
	r = x.bash(`lwtoken-helper get --format json | jq -r '.token, .token_type, .scope, .profile, (.expires_at | fromdateiso8601)'`)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 5 || lines[0] != tok || lines[1] != "Bearer" || lines[2] != "bot user.read" || lines[3] != x.profile {
		t.Fatalf("jq: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if exp, _ := strconv.ParseInt(lines[4], 10, 64); time.Until(time.Unix(exp, 0)) < 23*time.Hour || time.Until(time.Unix(exp, 0)) > 24*time.Hour {
		t.Fatalf("jq read expires_at as %s", lines[4])
	}

	// env: eval in bash exports both variables; date(1) parses the expiry
	r = x.bash(`eval "$(lwtoken-helper get --format env)"
sh -c 'printf "%s\n%s\n" "$LWTOKEN_HELPER_TOKEN" "$LWTOKEN_HELPER_TOKEN_EXPIRES_AT"'
date -d "$LWTOKEN_HELPER_TOKEN_EXPIRES_AT" +%s`)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || lines[0] != tok || !strings.HasSuffix(lines[1], "Z") {
		t.Fatalf("eval: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if exp, _ := strconv.ParseInt(lines[2], 10, 64); time.Until(time.Unix(exp, 0)) < 23*time.Hour {
		t.Fatalf("date -d read the expiry as %s", lines[2])
	}

	// The docs' examples, as they stand.
	r = x.bash(strings.ReplaceAll(docSnippet(t, "formats"), realAPI, api.URL+"/v1.0"))
	if r.code != 0 || !regexp.MustCompile(`^\{"ok":true\}\{"ok":true\}2[34]h left\ntoken expires at 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$`).MatchString(r.stdout) {
		t.Fatalf("formats snippet: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := x.helper("get", "--format", "yaml"); r.code != 2 || !strings.Contains(r.stderr, `lwtoken-helper: error: get: unknown --format "yaml"`) || r.stdout != "" {
		t.Fatalf("--format yaml: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestExecRunsTheCommandInPlace(t *testing.T) {
	needTools(t, "sh", "bash", "curl", "python3")
	x := newH(t)
	x.setup()
	x.startDaemon()
	tok := x.getToken()

	// Environment, stdout, stderr and the exit code.
	r := x.run("", nil, bin.client, "exec", "--", "sh", "-c",
		`printf '%s\n%s\n%s\n' "$LWTOKEN_HELPER_TOKEN" "$LWTOKEN_HELPER_TOKEN_EXPIRES_AT" "$LWTOKEN_HELPER_PROFILE"; echo to-stderr >&2; exit 42`)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 42 || len(lines) != 3 || lines[0] != tok || lines[2] != x.profile || r.stderr != "to-stderr\n" {
		t.Fatalf("exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if exp, err := time.Parse(time.RFC3339, lines[1]); err != nil || time.Until(exp) < 23*time.Hour {
		t.Fatalf("LWTOKEN_HELPER_TOKEN_EXPIRES_AT=%q: %v", lines[1], err)
	}
	// stdin passes through.
	if r := x.run("one\ntwo\nthree\n", nil, bin.client, "exec", "--", "wc", "-l"); r.code != 0 || strings.TrimSpace(r.stdout) != "3" {
		t.Fatalf("stdin: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// A death by signal is what the shell sees: 128+15.
	r = x.bash(`set +e; lwtoken-helper exec -- sh -c 'kill -TERM $$'; echo "status=$?"`)
	if r.stdout != "status=143\n" {
		t.Fatalf("killed by SIGTERM: %q %q", r.stdout, r.stderr)
	}
	// Nothing runs without a token; unknown commands are 127, as in shells.
	marker := filepath.Join(x.dir, "ran")
	r = x.run("", []string{"LWTOKEN_HELPER_SOCKET=" + filepath.Join(x.dir, "nowhere", "sock")}, bin.client, "exec", "--", "touch", marker)
	if _, err := os.Stat(marker); err == nil || r.code != 3 || !strings.HasPrefix(r.stderr, "lwtoken-helper: error: cannot reach the daemon") {
		t.Fatalf("no daemon: exit %d %q, command ran: %v", r.code, r.stderr, err == nil)
	}
	r = x.helper("exec", "--", "no-such-command-lwe2e")
	checkErr(t, r, 127, "no-such-command-lwe2e: command not found")

	// The docs' examples.
	api := x.checkedAPI()
	r = x.bash(strings.ReplaceAll(docSnippet(t, "exec"), realAPI, api.URL+"/v1.0"))
	year := regexp.MustCompile(`^\{"ok":true\}` + regexp.QuoteMeta(x.profile) + ` 20\d\d\n$`)
	if r.code != 0 || !year.MatchString(r.stdout) {
		t.Fatalf("exec snippet: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
}

// Signals sent to lwtoken-helper's process id reach the command: exec replaced the
// process, so it is the command's own pid.
func TestExecSignalsReachTheCommand(t *testing.T) {
	needTools(t, "sh")
	x := newH(t)
	x.setup()
	x.startDaemon()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1} {
		t.Run(sig.String(), func(t *testing.T) {
			script := `for s in INT TERM HUP USR1; do trap "echo got-$s; exit 7" $s; done; echo "ready $$"; while :; do sleep 0.02; done`
			cmd := exec.Command(bin.client, "exec", "--", "sh", "-c", script)
			cmd.Env = x.shellEnv()
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			rd := bufio.NewReader(out)
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("no ready line: %v", err)
			}
			if line != fmt.Sprintf("ready %d\n", cmd.Process.Pid) {
				t.Fatalf("the command runs as %q, not in lwtoken-helper's process %d", line, cmd.Process.Pid)
			}
			cmd.Process.Signal(sig)
			line, _ = rd.ReadString('\n')
			err = cmd.Wait()
			want := "got-" + strings.TrimPrefix(map[syscall.Signal]string{syscall.SIGINT: "INT", syscall.SIGTERM: "TERM", syscall.SIGHUP: "HUP", syscall.SIGUSR1: "USR1"}[sig], "SIG") + "\n"
			if line != want || cmd.ProcessState.ExitCode() != 7 {
				t.Fatalf("after %v: %q, exit %v (%v)", sig, line, cmd.ProcessState.ExitCode(), err)
			}
		})
	}
}

func TestPromptSegment(t *testing.T) {
	x := newH(t)
	// No daemon: nothing, exit 0, at once.
	if r := x.helper("prompt"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("no daemon: %d %q %q", r.code, r.stdout, r.stderr)
	}
	x.setup()
	x.startDaemon()
	for range 3 {
		if r := x.helper("prompt"); r.code != 0 || r.stdout != "lw:"+x.profile+"\n" {
			t.Fatalf("no token yet: %d %q %q", r.code, r.stdout, r.stderr)
		}
	}
	if n := x.fake.TokenRequests(); n != 0 {
		t.Fatalf("prompt made the daemon mint (%d token requests)", n)
	}
	x.getToken()
	if r := x.helper("prompt"); r.stdout != "lw:"+x.profile+" 23h\n" {
		t.Fatalf("after get: %q", r.stdout)
	}
	r := x.run("", []string{"LWTOKEN_HELPER_PROFILE=nope"}, bin.client, "prompt")
	if r.stdout != "lw:nope ?\n" {
		t.Fatalf("unknown profile: %q", r.stdout)
	}
	// Renewal failing: the token is still served, the prompt warns.
	x.fake.FailNext(-1, lwfake.Failure{Status: 503})
	// Past the latest renewal point (85 % of 24 h = 20.4 h, with the daemon's jitter): at
	// 20 h the renewal was due only in 5 runs out of 6.
	x.setClock(20*time.Hour + 30*time.Minute)
	x.getToken() // serves the cached token and starts the renewal, which fails
	waitUntilTrue(t, "a failed renewal", func() bool { return strings.Contains(x.helper("status").stdout, "retrying") })
	if r := x.helper("prompt"); !regexp.MustCompile(`^lw:` + regexp.QuoteMeta(x.profile) + ` [34]h !\n$`).MatchString(r.stdout) {
		t.Fatalf("renewal failing: %q", r.stdout)
	}
	x.fake.ClearFailures()
}

func waitUntilTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// A hung daemon must not hang the shell: a socket that accepts and never answers, and a
// real daemon stopped with SIGSTOP.
func TestPromptHungDaemonReturnsAtOnce(t *testing.T) {
	x := newH(t)
	sock := filepath.Join(x.dir, "hung.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	timed := func(extra ...string) (result, time.Duration) {
		start := time.Now()
		r := x.run("", extra, bin.client, "prompt")
		return r, time.Since(start)
	}
	// What starting the process costs (about 1 s for a -race build here): the time of a
	// prompt that finds no socket at all.
	_, base := timed("LWTOKEN_HELPER_SOCKET=" + filepath.Join(x.dir, "none"))
	check := func(what string, extra ...string) {
		t.Helper()
		r, took := timed(extra...)
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("%s: exit %d %q %q", what, r.code, r.stdout, r.stderr)
		}
		// The 150 ms deadline, with some slack for a loaded machine.
		if took-base > 450*time.Millisecond {
			t.Fatalf("%s: prompt took %v (a process that gives up at once: %v)", what, took, base)
		}
		t.Logf("%s: %v (a process that gives up at once: %v)", what, took, base)
	}
	check("silent socket", "LWTOKEN_HELPER_SOCKET="+sock)
	x.setup()
	x.startDaemon()
	x.getToken()
	x.daemon.Process.Signal(syscall.SIGSTOP)
	check("stopped daemon")
	x.daemon.Process.Signal(syscall.SIGCONT)
	if r := x.helper("prompt"); r.stdout != "lw:"+x.profile+" 23h\n" {
		t.Fatalf("after SIGCONT: %q", r.stdout)
	}
}

// tmux drives an interactive shell in a private tmux server.
type tmux struct {
	t    *testing.T
	name string
	env  []string
}

func newTmux(t *testing.T, env []string, command string) *tmux {
	t.Helper()
	needTools(t, "tmux")
	tm := &tmux{t: t, name: fmt.Sprintf("lwe2e-%d-%d", os.Getpid(), time.Now().UnixNano()), env: env}
	tm.cmd("-f", "/dev/null", "new-session", "-d", "-s", "s", "-x", "160", "-y", "40", command)
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.name, "kill-server").Run() })
	return tm
}

func (tm *tmux) cmd(args ...string) string {
	tm.t.Helper()
	c := exec.Command("tmux", append([]string{"-L", tm.name}, args...)...)
	c.Env = tm.env
	out, err := c.CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (tm *tmux) screen() string { return tm.cmd("capture-pane", "-p", "-t", "s") }

func (tm *tmux) send(keys ...string) { tm.cmd(append([]string{"send-keys", "-t", "s"}, keys...)...) }

// lastLine returns the last non-empty line on the screen (tmux drops trailing spaces).
func (tm *tmux) lastLine() string {
	lines := strings.Split(strings.TrimRight(tm.screen(), "\n "), "\n")
	return lines[len(lines)-1]
}

// waitLast waits until the last line matches re and returns it.
func (tm *tmux) waitLast(re string) string {
	tm.t.Helper()
	return tm.waitMatch("the screen never ended with a line matching", re, tm.lastLine)
}

func (tm *tmux) waitScreen(re string) string {
	tm.t.Helper()
	return tm.waitMatch("the screen never matched", re, tm.screen)
}

// waitMatch polls read for up to 15 s until it matches re, and returns what it read.
func (tm *tmux) waitMatch(failure, re string, read func() string) string {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if s := read(); rx.MatchString(s) {
			return s
		}
	}
	tm.t.Fatalf("%s %s:\n%s", failure, re, tm.screen())
	return ""
}

// rcExports are the lines an rc file needs to find the binary and the test's daemon.
func (x *h) rcExports() string {
	return fmt.Sprintf("export PATH=%s:$PATH LWTOKEN_HELPER_SOCKET=%s HISTFILE=/dev/null\n", bin.dir, x.sock)
}

// The bash snippet of the docs in a real interactive bash: the prompt shows the segment,
// follows the token, and disappears when the daemon stops.
func TestPromptBashSnippetInInteractiveBash(t *testing.T) {
	needTools(t, "bash", "tmux")
	x := newH(t)
	x.setup()
	x.startDaemon()
	rc := filepath.Join(x.dir, "bashrc")
	os.WriteFile(rc, []byte(x.rcExports()+docSnippet(t, "prompt-bash")), 0o600)
	tm := newTmux(t, x.shellEnv(), "bash --noprofile --rcfile "+rc+" -i")
	p := regexp.QuoteMeta(x.profile)
	tm.waitLast(`^\[lw:` + p + `\] \S+@\S+:\S+[#$]\s*$`)
	tm.send("lwtoken-helper get >/dev/null", "Enter")
	tm.waitLast(`^\[lw:` + p + ` 23h\] \S+@\S+:\S+[#$]\s*$`)
	x.stopDaemon()
	tm.send("Enter")
	line := tm.waitLast(`^\S+@\S+:\S+[#$]\s*$`)
	if strings.Contains(line, "lw:") {
		t.Fatalf("the segment stayed after the daemon stopped: %q", line)
	}
}

// The zsh snippet of the docs in a real interactive zsh.
func TestPromptZshSnippetInInteractiveZsh(t *testing.T) {
	needTools(t, "zsh", "tmux")
	x := newH(t)
	x.setup()
	x.startDaemon()
	x.getToken()
	zdot := filepath.Join(x.dir, "zdot")
	os.MkdirAll(zdot, 0o700)
	os.WriteFile(filepath.Join(zdot, ".zshrc"), []byte(x.rcExports()+docSnippet(t, "prompt-zsh")), 0o600)
	tm := newTmux(t, x.shellEnv(), "env ZDOTDIR="+zdot+" zsh -i")
	tm.waitLast(`^\[lw:` + regexp.QuoteMeta(x.profile) + ` 23h\] \S+@\S+:\S+[#%]\s*$`)
	x.stopDaemon()
	tm.send("Enter")
	if line := tm.waitLast(`^\S+@\S+:\S+[#%]\s*$`); strings.Contains(line, "lw:") {
		t.Fatalf("the segment stayed after the daemon stopped: %q", line)
	}
}

// starship is not packaged for Debian here, so its config is checked the way starship
// reads it: the TOML parses, and the command, run as starship runs it (shell "sh" with
// -c), prints the segment; with no daemon it prints nothing, which starship hides.
func TestPromptStarshipSnippet(t *testing.T) {
	needTools(t, "sh")
	var cfg struct {
		Custom map[string]struct {
			Command, Format, Style, Description string
			When                                any
			Shell                               []string
		}
	}
	md, err := toml.Decode(docSnippet(t, "prompt-starship"), &cfg)
	if err != nil || len(md.Undecoded()) > 0 {
		t.Fatalf("starship snippet: %v, unknown keys %v", err, md.Undecoded())
	}
	m, ok := cfg.Custom["lwtoken"]
	if !ok || m.When != true || len(m.Shell) != 1 || !strings.Contains(m.Format, "($output )") {
		t.Fatalf("starship module: %+v", m)
	}
	x := newH(t)
	run := func() string {
		r := x.run("", nil, m.Shell[0], "-c", m.Command)
		if r.code != 0 {
			t.Fatalf("starship command: exit %d %s", r.code, r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	if out := run(); out != "" {
		t.Fatalf("no daemon: %q", out)
	}
	x.setup()
	x.startDaemon()
	x.getToken()
	if out := run(); out != "lw:"+x.profile+" 23h" {
		t.Fatalf("starship command printed %q", out)
	}
}

// The socket API from curl, Python (standard library) and Node, as the docs show them,
// with the socket given by LWTOKEN_HELPER_SOCKET and found by the default-path logic.
func TestSocketAPIFromOtherLanguages(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	tok := x.getToken()
	// $XDG_RUNTIME_DIR/lwtoken-helper/sock, the default path, leads to the test's daemon.
	xdg := filepath.Join(x.dir, "xdg")
	os.MkdirAll(filepath.Join(xdg, "lwtoken-helper"), 0o700)
	if err := os.Symlink(x.sock, filepath.Join(xdg, "lwtoken-helper", "sock")); err != nil {
		t.Fatal(err)
	}
	envs := map[string][]string{
		"LWTOKEN_HELPER_SOCKET": nil,
		"default path":          {"LWTOKEN_HELPER_SOCKET=", "XDG_RUNTIME_DIR=" + xdg},
	}
	t.Run("curl", func(t *testing.T) {
		needTools(t, "curl", "jq", "bash")
		for name, env := range envs {
			r := x.bash(docSnippet(t, "curl-socket"), env...)
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if r.code != 0 || len(lines) != 2 || lines[0] != tok {
				t.Fatalf("%s: exit %d %q %s", name, r.code, r.stdout, r.stderr)
			}
			if exp, err := time.Parse(time.RFC3339, lines[1]); err != nil || time.Until(exp) < 23*time.Hour {
				t.Fatalf("%s: expires_at %q", name, lines[1])
			}
		}
	})
	t.Run("python", func(t *testing.T) {
		needTools(t, "python3")
		py := filepath.Join(x.dir, "lwtoken.py")
		os.WriteFile(py, []byte(docSnippet(t, "python-socket")), 0o600)
		want := regexp.MustCompile(`^` + regexp.QuoteMeta(x.profile) + ` bot 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\n$`)
		for name, env := range envs {
			if r := x.run("", env, "python3", py); r.code != 0 || !want.MatchString(r.stdout) {
				t.Fatalf("%s: exit %d %q %s", name, r.code, r.stdout, r.stderr)
			}
		}
		// As a module: the token, and an error that says what is wrong.
		r := x.run("", nil, "python3", "-c", `import sys; sys.path.insert(0, sys.argv[1]); import lwtoken
t = lwtoken.lwtoken()
print(t["access_token"], t["token_type"], t["scope"])
try:
    lwtoken.lwtoken(profile="nope")
except RuntimeError as e:
    print(e)`, x.dir)
		if r.code != 0 || !strings.HasPrefix(r.stdout, tok+" Bearer bot user.read\nlwtoken-helper: profile \"nope\" is not configured (not_configured)") {
			t.Fatalf("python module: exit %d %q %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("node", func(t *testing.T) {
		needTools(t, "node")
		js := filepath.Join(x.dir, "lwtoken.js")
		os.WriteFile(js, []byte(docSnippet(t, "node-socket")), 0o600)
		want := regexp.MustCompile(`^` + regexp.QuoteMeta(x.profile) + ` bot 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\n$`)
		for name, env := range envs {
			if r := x.run("", env, "node", js); r.code != 0 || !want.MatchString(r.stdout) {
				t.Fatalf("%s: exit %d %q %s", name, r.code, r.stdout, r.stderr)
			}
		}
	})
}

func TestProfilesSideBySide(t *testing.T) {
	needTools(t, "jq", "bash")
	x := newH(t)
	x.setup("--default")
	second := x.profile + "-b"
	r := x.runCmd(bin.daemon, x.secret+"\n", "setup", "--profile", second, "--client-id", x.clientID,
		"--service-account", "bot.serviceaccount@example.com", "--scope", "bot", "--private-key-file", x.keyFile, "--auth-url", x.fake.AuthURL)
	if r.code != 0 {
		t.Fatalf("setup %s: %d %s", second, r.code, r.stderr)
	}
	gov := x.profile + "-gov"
	r = x.runCmd(bin.daemon, x.secret+"\n", "setup", "--profile", gov, "--client-id", "gov-client",
		"--service-account", "gov.serviceaccount@example.com", "--scope", "bot", "--private-key-file", x.keyFile,
		"--auth-url", "https://auth.gov-naverworks.com/oauth2/v2.0")
	if r.code != 0 {
		t.Fatalf("setup %s: %d %s", gov, r.code, r.stderr)
	}
	x.startDaemon()
	x.getToken()
	// The default comes from the config ...
	r = x.helper("profiles")
	if r.code != 0 || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(x.profile)+` \*\s+valid\s+23h\s+ok\s+bot user.read\s+127\.0\.0\.1:\d+\s`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(second)+`\s+missing\s+-\s+ok\s+bot\s`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(gov)+`\s+missing\s+-\s+ok\s+bot\s+auth\.gov-naverworks\.com\s+gov\.serviceaccount@example\.com$`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "* default profile (from the config)") {
		t.Fatalf("profiles: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// ... or from LWTOKEN_HELPER_PROFILE, for every command.
	envB := []string{"LWTOKEN_HELPER_PROFILE=" + second}
	r = x.run("", envB, bin.client, "profiles")
	if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(second)+` \*`).MatchString(r.stdout) || !strings.Contains(r.stdout, "(from LWTOKEN_HELPER_PROFILE)") {
		t.Fatalf("profiles with %v:\n%s", envB, r.stdout)
	}
	r = x.run("", envB, "bash", "-c", `lwtoken-helper get --format json | jq -r '.profile + " " + .scope'`)
	if r.stdout != second+" bot\n" {
		t.Fatalf("get with %v: %q %s", envB, r.stdout, r.stderr)
	}
	if r = x.run("", envB, bin.client, "prompt"); r.stdout != "lw:"+second+" 23h\n" {
		t.Fatalf("prompt with %v: %q", envB, r.stdout)
	}
	// JSON and names for scripts.
	r = x.bash(`lwtoken-helper profiles --json | jq -r '.profiles[] | "\(.name) \(.default) \(.state) \(.scopes | join(",")) \(.auth_url)"'`)
	want := fmt.Sprintf("%s true valid bot,user.read %s\n%s false valid bot %s\n%s false missing bot https://auth.gov-naverworks.com/oauth2/v2.0\n",
		x.profile, x.fake.AuthURL, second, x.fake.AuthURL, gov)
	if r.stdout != want {
		t.Fatalf("profiles --json | jq:\n%s\nwant\n%s", r.stdout, want)
	}
	if r = x.helper("profiles", "--names"); r.stdout != strings.Join([]string{x.profile, second, gov}, "\n")+"\n" {
		t.Fatalf("profiles --names: %q", r.stdout)
	}
	// Each profile has its own scopes.
	r = x.helper("get", "--profile", second, "--scope", "user.read")
	checkErr(t, r, 2, fmt.Sprintf(`scope "user.read" is not among profile %q's scopes (bot)`, second))
	if r = x.helper("profiles", "--socket", filepath.Join(x.dir, "none")); r.code != 3 {
		t.Fatalf("profiles without daemon: %d", r.code)
	}
}

func TestCompletionInBash(t *testing.T) {
	needTools(t, "bash")
	x := newH(t)
	x.setup()
	x.startDaemon()
	r := x.bash(`source <(lwtoken-helper completion bash)
complete -p lwtoken-helper
comp() {
	COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
	_lwtoken_helper
	echo "${COMPREPLY[*]}"
}
comp lwtoken-helper ''
comp lwtoken-helper p
comp lwtoken-helper get --f
comp lwtoken-helper get --format ''
comp lwtoken-helper get --profile ''
comp lwtoken-helper exec --profile x -- bas
comp lwtoken-helper completion ''
comp lwtoken-helper prompt --t
`)
	want := []string{
		"complete -F _lwtoken_helper lwtoken-helper",
		"get exec status profiles prompt revoke completion version help",
		"profiles prompt",
		"--format",
		"token header json env",
		x.profile,
		"", // checked below: commands on PATH
		"bash zsh fish",
		"--timeout",
	}
	got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(got) != len(want) {
		t.Fatalf("exit %d, %d lines:\n%s\n%s", r.code, len(got), r.stdout, r.stderr)
	}
	for i, w := range want {
		if i == 1 {
			for _, c := range strings.Fields(w) {
				if !strings.Contains(" "+got[i]+" ", " "+c+" ") {
					t.Errorf("commands: %q lacks %s", got[i], c)
				}
			}
			continue
		}
		if i == 6 {
			if !strings.Contains(" "+got[i]+" ", " bash ") {
				t.Errorf("after exec --: %q lacks the command bash", got[i])
			}
			continue
		}
		if got[i] != w {
			t.Errorf("completion %d: %q, want %q", i, got[i], w)
		}
	}
}

func TestCompletionInFish(t *testing.T) {
	needTools(t, "fish")
	x := newH(t)
	x.setup()
	x.startDaemon()
	r := x.run("", nil, "fish", "--no-config", "-c", `lwtoken-helper completion fish | source
complete -C 'lwtoken-helper ge'
echo ==
complete -C 'lwtoken-helper get --format '
echo ==
complete -C 'lwtoken-helper get --profile '
echo ==
complete -C 'lwtoken-helper completion '`)
	parts := strings.Split(r.stdout, "==\n")
	if r.code != 0 || len(parts) != 4 {
		t.Fatalf("fish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	firsts := func(s string) string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			w, _, _ := strings.Cut(l, "\t")
			out = append(out, w)
		}
		return strings.Join(out, " ")
	}
	if !strings.HasPrefix(parts[0], "get\tprint a valid access token") {
		t.Errorf("commands: %q", parts[0])
	}
	if got := firsts(parts[1]); got != "env header json token" {
		t.Errorf("--format values: %q", got)
	}
	if got := firsts(parts[2]); got != x.profile {
		t.Errorf("--profile values: %q", got)
	}
	if got := firsts(parts[3]); got != "bash fish zsh" {
		t.Errorf("completion shells: %q", got)
	}
}

// zsh completion in a real interactive zsh with compinit: Tab lists the shells and the
// --format values.
func TestCompletionInZsh(t *testing.T) {
	needTools(t, "zsh", "tmux")
	x := newH(t)
	x.setup()
	x.startDaemon()
	zdot := filepath.Join(x.dir, "zdot")
	os.MkdirAll(zdot, 0o700)
	rc := x.rcExports() + "PROMPT='zsh> '\nautoload -Uz compinit && compinit -u -d " + filepath.Join(zdot, ".zcompdump") +
		"\nsource <(lwtoken-helper completion zsh)\n"
	os.WriteFile(filepath.Join(zdot, ".zshrc"), []byte(rc), 0o600)
	tm := newTmux(t, x.shellEnv(), "env ZDOTDIR="+zdot+" zsh -i")
	tm.waitLast(`^zsh>\s*$`)
	tm.send("lwtoken-helper completion ", "Tab")
	tm.waitScreen(`(?m)^bash\s+fish\s+zsh\s*$`)
	tm.send("C-c")
	tm.waitLast(`^zsh>\s*$`)
	tm.send("lwtoken-helper get --form", "Tab")
	tm.waitScreen(`lwtoken-helper get --format=`)
	tm.send("Tab")
	tm.waitScreen(`(?m)^env\s+header\s+json\s+token\s*$`)
	// ^C reaches zsh as a signal, noticed only between reads: keys typed before the fresh
	// prompt shows can still land on the line being aborted.
	tm.send("C-c")
	tm.waitLast(`^zsh>\s*$`)
	tm.send("lwtoken-helper get --profile=", "Tab")
	tm.waitScreen(`lwtoken-helper get --profile=` + regexp.QuoteMeta(x.profile))
}

// version reports the commit a build from a git checkout was made from.
func TestVersionReportsTheCommit(t *testing.T) {
	needTools(t, "git")
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	out := filepath.Join(t.TempDir(), "lwtoken-helper")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", out, "../cmd/lwtoken-helper")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	v, err := exec.Command(out, "version").Output()
	want := regexp.MustCompile(`^lwtoken-helper \S+ \(` + string(head[:12]) + `(-dirty)?\) go\S+ \w+/\w+\n$`)
	if err != nil || !want.MatchString(string(v)) {
		t.Fatalf("version: %q (%v), want the commit %s", v, err, head[:12])
	}
}

// The JSON the docs promise for get --format json has exactly these fields.
func TestGetJSONFields(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	r := x.helper("get", "--format", "json")
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"token", "token_type", "scope", "expires_at", "profile"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %v", k, m)
		}
	}
	if len(m) != 5 {
		t.Errorf("fields: %v", m)
	}
}
