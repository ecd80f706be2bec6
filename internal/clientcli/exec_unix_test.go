//go:build unix

package clientcli

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/daemontest"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// runExec with the exec step replaced: what it would exec, and its errors before that.
func TestRunExec(t *testing.T) {
	d, err := daemontest.Start("default", "gov")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var gotPath string
	var gotArgv, gotEnv []string
	execCommand = func(_ *Env, path string, argv, envv []string) int {
		gotPath, gotArgv, gotEnv = path, argv, envv
		return 42
	}
	defer func() { execCommand = execReplace }()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			if k == wire.EnvSocket {
				return d.Socket
			}
			return ""
		}}
		code := Main(context.Background(), env, append([]string{"exec"}, args...))
		return code, out.String(), errb.String()
	}
	sh, _ := exec.LookPath("sh")
	code, _, stderr := run("--profile", "gov", "--scope", "bot", "--", "sh", "-c", "exit 3")
	if code != 42 || gotPath != sh || !slices.Equal(gotArgv, []string{"sh", "-c", "exit 3"}) || stderr != "" {
		t.Fatalf("exit %d, path %q, argv %q, stderr %q", code, gotPath, gotArgv, stderr)
	}
	vars := map[string]string{}
	for _, kv := range gotEnv {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	if !d.Fake.Valid(vars[EnvToken]) || vars[wire.EnvProfile] != "gov" {
		t.Fatalf("child env lacks a valid token or the profile: profile %q", vars[wire.EnvProfile])
	}
	if exp, err := time.Parse(time.RFC3339, vars[EnvTokenExpiresAt]); err != nil || time.Until(exp) < 23*time.Hour {
		t.Fatalf("expiry %q: %v", vars[EnvTokenExpiresAt], err)
	}
	// Without "--" the command starts at the first non-flag word.
	if code, _, _ := run("--profile", "gov", "sh", "-x"); code != 42 || !slices.Equal(gotArgv, []string{"sh", "-x"}) {
		t.Fatalf("without --: %d %q", code, gotArgv)
	}
	gotPath = ""
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, ExitUsage, "exec: no command given"},
		{[]string{"--"}, ExitUsage, "exec: no command given"},
		{[]string{"--", "no-such-command-lwtoken"}, ExitNotFound, "no-such-command-lwtoken: command not found"},
		{[]string{"--", t.TempDir()}, ExitCannotExec, "is a directory"},
		{[]string{"--profile", "nope", "--", "sh"}, ExitNotConfigured, `profile "nope" is not configured`},
		{[]string{"--scope", "calendar", "--", "sh"}, ExitUsage, `scope "calendar" is not among`},
		{[]string{"--min-ttl", "-1s", "--", "sh"}, ExitUsage, "must not be negative"},
	} {
		code, stdout, stderr := run(tc.args...)
		if code != tc.code || !strings.HasPrefix(stderr, "lwtoken-helper: error: ") || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("exec %q: exit %d (want %d), stderr %q", tc.args, code, tc.code, stderr)
		}
		if gotPath != "" {
			t.Fatalf("exec %q ran the command", tc.args)
		}
	}
	if code, stdout, _ := run("-h"); code != 0 || !strings.Contains(stdout, "example:") {
		t.Fatalf("exec -h: %d %q", code, stdout)
	}
}

// runChild is exec where a process cannot replace itself (Windows); its logic is tested
// here with Unix signals.
func TestRunChild(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard}
	if code := runChild(env, sh, []string{"sh", "-c", "exit 7"}, os.Environ()); code != 7 {
		t.Fatalf("exit code %d, want 7", code)
	}
	if code := runChild(env, sh, []string{"sh", "-c", "kill -TERM $$"}, os.Environ()); code != 128+15 {
		t.Fatalf("killed by SIGTERM: %d, want 143", code)
	}
	// A signal sent to lwtoken-helper reaches the child.
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	script := `trap 'echo got-term >"$OUT"; exit 9' TERM; : >"$READY"; while :; do sleep 0.02; done`
	done := make(chan int)
	go func() {
		done <- runChild(env, sh, []string{"sh", "-c", script}, append(os.Environ(), "READY="+ready, "OUT="+filepath.Join(dir, "out")))
	}()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatal("child never got ready")
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM) // caught by runChild's signal.Notify, passed on
	select {
	case code := <-done:
		b, _ := os.ReadFile(filepath.Join(dir, "out"))
		if code != 9 || string(b) != "got-term\n" {
			t.Fatalf("exit %d, child wrote %q", code, b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the child did not get SIGTERM")
	}
}
