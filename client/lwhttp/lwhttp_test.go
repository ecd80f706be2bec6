package lwhttp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/client/lwhttp"
	"github.com/lwtoken-helper/lwtoken-helper/internal/daemontest"
)

// world is one test's daemon plus a resource server whose answer to a request the test
// decides (by default: the fake's resource API).
type world struct {
	t      *testing.T
	env    *daemontest.Env
	c      *client.Client
	srv    *httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	bodies []string
	auths  []string
	answer func(w http.ResponseWriter, r *http.Request, valid bool)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env, err := daemontest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	x := &world{t: t, env: env, c: &client.Client{SocketPath: env.Socket, Timeout: 20 * time.Second}}
	x.answer = func(w http.ResponseWriter, r *http.Request, _ bool) { env.Fake.ServeHTTP(w, r) }
	x.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b)) // for the fake, which reads it too
		auth := r.Header.Get("Authorization")
		x.mu.Lock()
		x.bodies = append(x.bodies, string(b))
		x.auths = append(x.auths, auth)
		x.mu.Unlock()
		x.answer(w, r, env.Fake.Valid(strings.TrimPrefix(auth, "Bearer ")))
	}))
	t.Cleanup(x.srv.Close)
	return x
}

func (x *world) transport() *lwhttp.Transport { return &lwhttp.Transport{Client: x.c} }

func (x *world) token() string {
	x.t.Helper()
	tok, err := x.c.Token(context.Background(), client.TokenRequest{})
	if err != nil {
		x.t.Fatal(err)
	}
	return tok.AccessToken
}

// revoke revokes the daemon's current token, an hour after it was issued.
func (x *world) revoke() string {
	x.t.Helper()
	tok := x.token()
	x.env.Advance(time.Hour)
	if err := x.env.Revoke("default", tok); err != nil {
		x.t.Fatal(err)
	}
	return tok
}

func (x *world) do(req *http.Request) (*http.Response, string) {
	x.t.Helper()
	resp, err := (&http.Client{Transport: x.transport()}).Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	return resp, string(b)
}

func (x *world) get() (*http.Response, string) {
	req, _ := http.NewRequest("GET", x.srv.URL+"/v1.0/users/me", nil)
	return x.do(req)
}

func TestTransportSendsBearerToken(t *testing.T) {
	x := newWorld(t)
	resp, body := x.get()
	if resp.StatusCode != 200 || body != `{"ok":true}` {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if x.auths[0] != "Bearer "+x.token() {
		t.Fatal("the request did not carry the daemon's token as a bearer token")
	}
	// The caller's request is not modified.
	req, _ := http.NewRequest("GET", x.srv.URL+"/v1.0/users/me", nil)
	x.do(req)
	if req.Header.Get("Authorization") != "" {
		t.Fatal("RoundTrip modified the caller's request")
	}
}

func TestTransportRetriesOnceAfter401WithAFreshToken(t *testing.T) {
	x := newWorld(t)
	old := x.revoke()
	resp, _ := x.get()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d after a retry", resp.StatusCode)
	}
	if x.hits.Load() != 2 || x.auths[0] != "Bearer "+old || x.auths[1] == x.auths[0] {
		t.Fatalf("%d requests; the retry must carry a new token", x.hits.Load())
	}
	if n := x.env.Fake.TokenRequests(); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
}

func TestTransportRetriesOn403Unauthorized(t *testing.T) {
	x := newWorld(t)
	first := x.token()
	x.env.Advance(time.Hour)
	x.answer = func(w http.ResponseWriter, r *http.Request, valid bool) {
		if r.Header.Get("Authorization") == "Bearer "+first {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(403)
			io.WriteString(w, `{"code":"UNAUTHORIZED","description":"Authentication failed"}`)
			return
		}
		io.WriteString(w, "second")
	}
	resp, body := x.get()
	if resp.StatusCode != 200 || body != "second" || x.hits.Load() != 2 {
		t.Fatalf("%d %q after %d requests", resp.StatusCode, body, x.hits.Load())
	}
}

func TestTransportKeeps403ForbiddenAndItsBody(t *testing.T) {
	x := newWorld(t)
	x.token()
	x.env.Advance(time.Hour)
	big := `{"code":"FORBIDDEN","description":"` + strings.Repeat("x", 100<<10) + `"}`
	x.answer = func(w http.ResponseWriter, r *http.Request, valid bool) {
		w.WriteHeader(403)
		io.WriteString(w, big)
	}
	resp, body := x.get()
	if resp.StatusCode != 403 || body != big {
		t.Fatalf("status %d, body of %d bytes (want the whole %d)", resp.StatusCode, len(body), len(big))
	}
	if x.hits.Load() != 1 || x.env.Fake.TokenRequests() != 1 {
		t.Fatalf("a missing-scope 403 was retried or renewed: %d requests, %d mints", x.hits.Load(), x.env.Fake.TokenRequests())
	}
}

func TestTransportRetriesOnlyOnce(t *testing.T) {
	x := newWorld(t)
	x.token()
	x.env.Advance(time.Hour)
	x.answer = func(w http.ResponseWriter, r *http.Request, valid bool) {
		w.WriteHeader(401)
		io.WriteString(w, `{"code":"UNAUTHORIZED"}`)
	}
	resp, body := x.get()
	if resp.StatusCode != 401 || body != `{"code":"UNAUTHORIZED"}` || x.hits.Load() != 2 {
		t.Fatalf("%d %q after %d requests, want 401 after 2", resp.StatusCode, body, x.hits.Load())
	}
	// The new token is young: a second refused request does not make the daemon mint again.
	x.get()
	if n := x.env.Fake.TokenRequests(); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
}

func TestTransportReplaysBodies(t *testing.T) {
	x := newWorld(t)
	x.revoke()
	req, _ := http.NewRequest("POST", x.srv.URL+"/v1.0/bots/1/users/u/messages", strings.NewReader(`{"content":"hi"}`))
	resp, _ := x.do(req)
	if resp.StatusCode != 201 || x.hits.Load() != 2 || x.bodies[0] != `{"content":"hi"}` || x.bodies[1] != x.bodies[0] {
		t.Fatalf("status %d, bodies %q", resp.StatusCode, x.bodies)
	}
}

func TestTransportDoesNotRetryABodyItCannotReplay(t *testing.T) {
	x := newWorld(t)
	x.revoke()
	req, _ := http.NewRequest("POST", x.srv.URL+"/v1.0/x", io.NopCloser(strings.NewReader("once")))
	if req.GetBody != nil {
		t.Fatal("test needs a request without GetBody")
	}
	resp, _ := x.do(req)
	if resp.StatusCode != 403 || x.hits.Load() != 1 {
		t.Fatalf("status %d after %d requests, want the first refusal (403 UNAUTHORIZED)", resp.StatusCode, x.hits.Load())
	}
	if n := x.env.Fake.TokenRequests(); n != 1 {
		t.Fatalf("the token was renewed (%d requests) for a request that could not be retried", n)
	}
}

// Many programs (here goroutines, each with its own Transport and client) meet the same
// revoked token at once: the daemon mints once, and every request succeeds on its retry.
func TestManyTransportsOneRenewal(t *testing.T) {
	x := newWorld(t)
	x.revoke()
	x.env.Fake.SetDelay(100 * time.Millisecond)
	const n = 40
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &lwhttp.Transport{Client: &client.Client{SocketPath: x.env.Socket, Timeout: 20 * time.Second}}
			resp, err := (&http.Client{Transport: tr}).Get(x.srv.URL + "/v1.0/users/me")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: status %d", i, c)
		}
	}
	if got := x.env.Fake.TokenRequests(); got != 2 {
		t.Fatalf("%d clients refused with one token caused %d mints in all, want 2 (first + one renewal)", n, got)
	}
}

func TestTransportWithoutDaemon(t *testing.T) {
	tr := &lwhttp.Transport{Client: &client.Client{SocketPath: filepath.Join(t.TempDir(), "none")}}
	body := &closeSpy{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest("POST", "http://127.0.0.1:1/", body)
	_, err := tr.RoundTrip(req)
	if !errors.Is(err, client.ErrDaemonNotRunning) {
		t.Fatalf("err = %v, want ErrDaemonNotRunning", err)
	}
	if !body.closed {
		t.Fatal("RoundTrip did not close the request body on error")
	}
	//lint:ignore SA1012 a nil ctx is documented to mean context.Background, and tested here
	_, err = lwhttp.TokenSource(nil, tr.Client, client.TokenRequest{}).Token()
	if !errors.Is(err, client.ErrDaemonNotRunning) {
		t.Fatalf("TokenSource: %v", err)
	}
}

type closeSpy struct {
	io.Reader
	closed bool
}

func (c *closeSpy) Close() error { c.closed = true; return nil }

func TestTokenSourceToken(t *testing.T) {
	x := newWorld(t)
	tok, err := lwhttp.TokenSource(context.Background(), x.c, client.TokenRequest{Scope: "bot"}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if !x.env.Fake.Valid(tok.AccessToken) || tok.TokenType != "Bearer" || tok.Extra("scope") != "bot" ||
		tok.Expiry.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("token: type %q scope %v expiry %v", tok.TokenType, tok.Extra("scope"), tok.Expiry)
	}
}
