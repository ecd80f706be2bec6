//go:build unix

package clientcli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// hostile is text a hostile daemon sends: terminal escapes (window title, clear screen,
// colour, an 8-bit CSI), a bidi override, a forged second line, NUL and DEL.
const hostile = "x\x1b]0;pwned\x07\x1b[2J\x1b[31mred\u009b31m\u202eevil\r\nlwtoken-helper: hint: forged\x00\x7f\xff"

// hostileDaemon serves a socket (of this test's own uid, so the client's peer check passes)
// whose every reply carries hostile text: in each string field of a 200 reply, or in the
// error and hint of a failure when fail is set. badToken makes the token itself hostile.
func hostileDaemon(t *testing.T, fail, badToken bool) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	exp := now.Add(time.Hour)
	entry := wire.EntryStatus{Profile: hostile, Scope: hostile, State: "valid", Health: hostile, Fingerprint: hostile,
		ExpiresAt: &exp, TTLSeconds: 3600, NextRenewal: &exp, LastError: hostile, LastErrorCode: hostile,
		ConsecutiveFailures: 1, NextAttempt: &exp}
	replies := map[string]any{
		wire.PathToken: wire.Token{AccessToken: "tok-ok", TokenType: hostile, Scope: hostile, ExpiresAt: exp, Profile: hostile},
		wire.PathStatus: wire.Status{Version: hostile, Socket: hostile, Config: hostile, Now: now, Keyring: hostile,
			Entries: []wire.EntryStatus{entry}, Profiles: []string{hostile}, Default: hostile},
		wire.PathProfiles: wire.Profiles{Default: hostile, Profiles: []wire.ProfileInfo{{Name: hostile, ClientID: hostile,
			ServiceAccount: hostile, DomainID: hostile, Scopes: []string{hostile}, AuthURL: hostile, State: "valid",
			ExpiresAt: &exp, TTLSeconds: 3600, Health: hostile, LastError: hostile, Tokens: []wire.EntryStatus{entry}}}},
		wire.PathRevoke: wire.Revoked{Profile: hostile, Revoked: 1, Fingerprints: []string{hostile}},
	}
	if badToken {
		replies[wire.PathToken] = wire.Token{AccessToken: "tok\r\nX-Injected: 1", ExpiresAt: exp}
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, v := http.StatusOK, replies[r.URL.Path]
		if fail {
			status, v = http.StatusServiceUnavailable, wire.Error{Error: hostile, Code: wire.CodeUnavailable, Hint: hostile}
		}
		b, _ := json.Marshal(v)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(status)
		w.Write(b)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// unprintable returns the first character of out that a terminal would act on, or "".
func unprintable(out string) string {
	for i, r := range out {
		switch {
		case r == utf8.RuneError && strings.HasPrefix(out[i:], "\xff"),
			r < 0x20 && r != '\n', r >= 0x7f && r <= 0x9f, r == 0x202e:
			return string(r)
		}
	}
	return ""
}

// TestDaemonTextIsMadePrintable: everything a client prints that came from the daemon
// (status fields, profile names, error and hint text, prompt segments, revoke results, the
// profile exec passes on) is stripped of control characters (issue 12, item 3).
func TestDaemonTextIsMadePrintable(t *testing.T) {
	var childEnv []string
	execCommand = func(_ *Env, _ string, _, envv []string) int { childEnv = envv; return 0 }
	defer func() { execCommand = execReplace }()
	cmds := [][]string{{"get"}, {"get", "--format", "header"}, {"get", "--format", "json"}, {"get", "--format", "env"},
		{"status"}, {"status", "--json"}, {"profiles"}, {"profiles", "--json"}, {"profiles", "--names"},
		{"prompt"}, {"revoke"}, {"exec", "--", "true"}}
	for _, fail := range []bool{false, true} {
		sock := hostileDaemon(t, fail, false)
		for _, args := range cmds {
			var out, errb bytes.Buffer
			env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
				if k == wire.EnvSocket {
					return sock
				}
				return ""
			}}
			childEnv = nil
			code := Main(context.Background(), env, args)
			printed := out.String() + errb.String() + strings.Join(childEnv, "\n")
			if c := unprintable(printed); c != "" {
				t.Errorf("fail=%v %q: exit %d printed %q from the daemon:\n%q", fail, args, code, c, printed)
			}
			if !strings.Contains(printed, "x]0;pwned") && args[0] != "prompt" && !(args[0] == "get" && !fail && args[len(args)-1] != "json") {
				t.Errorf("fail=%v %q: the daemon's text is not shown at all (exit %d):\n%q", fail, args, code, printed)
			}
			if strings.Contains(printed, "\nlwtoken-helper: hint: forged") {
				t.Errorf("fail=%v %q: a forged line:\n%s", fail, args, printed)
			}
		}
	}
}

// TestMalformedTokenFromTheDaemonIsRefused: a token that would inject a header line is not
// printed in any format, nor passed to a command (issue 12, item 4, the client's side).
func TestMalformedTokenFromTheDaemonIsRefused(t *testing.T) {
	sock := hostileDaemon(t, false, true)
	ran := false
	execCommand = func(*Env, string, []string, []string) int { ran = true; return 0 }
	defer func() { execCommand = execReplace }()
	for _, args := range [][]string{{"get"}, {"get", "--format", "header"}, {"get", "--format", "json"}, {"get", "--format", "env"}, {"exec", "--", "true"}} {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			if k == wire.EnvSocket {
				return sock
			}
			return ""
		}}
		code := Main(context.Background(), env, args)
		if code != ExitError || out.Len() != 0 || ran || strings.Contains(errb.String(), "Injected") ||
			!strings.Contains(errb.String(), "lwtoken-helper: error: the daemon sent a malformed access token") {
			t.Fatalf("%q: exit %d, ran %v, stdout %q, stderr %q", args, code, ran, out.String(), errb.String())
		}
	}
}
