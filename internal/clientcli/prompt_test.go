package clientcli

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

func TestPromptSegment(t *testing.T) {
	valid := func(scope string, ttl time.Duration, health client.Health) client.TokenStatus {
		return client.TokenStatus{Profile: "default", Scope: scope, State: "valid", Health: health, TTLSeconds: int64(ttl / time.Second)}
	}
	st := func(es ...client.TokenStatus) *client.Status {
		return &client.Status{Default: "default", Profiles: []string{"default", "gov"}, Entries: es}
	}
	for _, tc := range []struct {
		name    string
		st      *client.Status
		profile string
		want    string
	}{
		{"valid", st(valid("bot user.read", 17*time.Hour+59*time.Minute, "ok")), "", "lw:default 17h"},
		{"minutes", st(valid("bot", 42*time.Minute+30*time.Second, "ok")), "", "lw:default 42m"},
		{"seconds", st(valid("bot", 30*time.Second, "renewing")), "", "lw:default 30s"},
		{"best of several", st(valid("bot", time.Hour, "ok"), valid("bot user.read", 5*time.Hour, "ok")), "", "lw:default 5h"},
		{"valid but renewal failing", st(valid("bot", 3*time.Hour, "retrying")), "", "lw:default 3h !"},
		{"valid but rejected", st(valid("bot", 3*time.Hour, "ok"), client.TokenStatus{Profile: "default", Scope: "user.read", State: "missing", Health: "rejected"}), "", "lw:default 3h !"},
		{"nothing valid, failing", st(client.TokenStatus{Profile: "default", State: "expired", Health: "retrying"}), "", "lw:default !"},
		{"expired", st(client.TokenStatus{Profile: "default", State: "expired", Health: "ok"}), "", "lw:default expired"},
		{"no token yet", st(), "", "lw:default"},
		{"other profile", st(valid("bot", 3*time.Hour, "retrying")), "gov", "lw:gov"},
		{"unknown profile", st(), "typo", "lw:typo ?"},
		{"no default", &client.Status{Profiles: []string{"a", "b"}}, "", ""},
	} {
		if got := promptSegment(tc.st, tc.profile); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A daemon that accepts and never answers (hung, or stopped with SIGSTOP) must not hang
// the shell: prompt prints nothing and returns within its deadline.
func TestPromptHungDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "sock")
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
			defer c.Close() // hold it open, read nothing, answer nothing
		}
	}()
	for _, timeout := range []string{"", "50ms"} {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			if k == wire.EnvSocket {
				return sock
			}
			return ""
		}}
		args := []string{"prompt"}
		if timeout != "" {
			args = append(args, "--timeout", timeout)
		}
		start := time.Now()
		code := Main(context.Background(), env, args)
		took := time.Since(start)
		if code != 0 || out.Len() != 0 || errb.Len() != 0 {
			t.Fatalf("hung daemon: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
		}
		limit := defaultPromptTimeout + 100*time.Millisecond
		if timeout != "" {
			limit = 150 * time.Millisecond
		}
		if took > limit {
			t.Fatalf("prompt took %v with a hung daemon (timeout %q)", took, timeout)
		}
	}
}

func TestPromptNoDaemonPrintsNothing(t *testing.T) {
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == wire.EnvSocket {
			return filepath.Join(t.TempDir(), "none")
		}
		return ""
	}}
	if code := Main(context.Background(), env, []string{"prompt"}); code != 0 || out.Len()+errb.Len() != 0 {
		t.Fatalf("exit %d, %q %q", code, out.String(), errb.String())
	}
	if code := Main(context.Background(), env, []string{"prompt", "--timeout", "1h"}); code != ExitUsage {
		t.Fatalf("a timeout of 1h was accepted: %d", code)
	}
}
