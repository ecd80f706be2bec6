package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

const (
	clientID = "client-1"
	sa       = "bot.serviceaccount@example.com"
	cs       = "s3cr3t-client-secret-value"
)

// clock is a movable wall clock shared by the daemon and the fake.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

type harness struct {
	t      *testing.T
	fake   *lwfake.Server
	store  *keystore.Memory
	clock  *clock
	cfg    string
	sock   string
	d      *Daemon
	c      *client.Client
	served chan error
	// slowGets delays every keyring read, to widen races with the preload.
	slowGets time.Duration
	// tokens, when set, is the token cache, apart from the secret source store; with
	// memTokens the daemon gets none (nil: tokens in memory only).
	tokens    keystore.TokenCache
	memTokens bool
}

type slowStore struct {
	keystore.TokenCache
	delay time.Duration
}

func (s slowStore) Get(ctx context.Context, key string) ([]byte, error) {
	time.Sleep(s.delay)
	return s.TokenCache.Get(ctx, key)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	k := testkey.App()
	h := &harness{t: t, store: keystore.NewMemory(), clock: &clock{}}
	h.fake = lwfake.NewServer(t, lwfake.App{ClientID: clientID, ClientSecret: cs, ServiceAccount: sa,
		PublicKey: &k.PublicKey, Scopes: []string{"bot", "user.read", "directory.read"}})
	h.fake.SetNow(h.clock.Now)
	dir, err := os.MkdirTemp("", "lwd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h.sock = filepath.Join(dir, "s", "sock")
	h.cfg = filepath.Join(dir, "config.toml")
	h.writeConfig(&config.Config{Profiles: map[string]*config.Profile{
		"default": {ClientID: clientID, ServiceAccount: sa, Scopes: []string{"bot", "user.read"}, AuthURL: h.fake.AuthURL},
	}})
	ctx := context.Background()
	h.store.Set(ctx, keystore.PrivateKeyKey("default"), testkey.PEM(k))
	h.store.Set(ctx, keystore.ClientSecretKey("default"), []byte(cs))
	h.c = &client.Client{SocketPath: h.sock, Timeout: 20 * time.Second}
	h.start()
	return h
}

func (h *harness) writeConfig(c *config.Config) {
	h.t.Helper()
	if err := config.Save(h.cfg, c); err != nil {
		h.t.Fatal(err)
	}
}

// launch says how a test starts the harness's daemon; the zero value is what start does.
type launch struct {
	options      func(*Options) // changes the harness's options (nil: none)
	beforeListen func(*Daemon)  // runs on the new daemon before Listen (nil: none)
	// asyncPreload runs Preload concurrently with the first requests, as
	// `lwtoken-helperd run` does; otherwise Preload finishes before Serve.
	asyncPreload bool
}

func (h *harness) start() { h.startWith(launch{}) }

// restart replaces the daemon by a new one started as l says, on the same socket, config,
// keyring, fake and clock.
func (h *harness) restart(l launch) {
	h.t.Helper()
	h.stop()
	h.startWith(l)
}

// startWith is how every test of this package starts a daemon on the harness: its socket
// and config, its keyring (slowed down by slowGets; tokens apart in tokens, or in memory
// with memTokens), its clock, jitter pinned at the middle, and l.
func (h *harness) startWith(l launch) {
	h.t.Helper()
	var store keystore.TokenCache = h.store
	if h.slowGets > 0 {
		store = slowStore{h.store, h.slowGets}
	}
	tokens := store
	switch {
	case h.memTokens:
		tokens = nil
	case h.tokens != nil:
		tokens = h.tokens
	}
	opts := Options{SocketPath: h.sock, ConfigPath: h.cfg, Secrets: store, Tokens: tokens, Now: h.clock.Now,
		Rand: func() float64 { return 0.5 }}
	if l.options != nil {
		l.options(&opts)
	}
	d, err := New(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	if l.beforeListen != nil {
		l.beforeListen(d)
	}
	if err := d.Listen(); err != nil {
		h.t.Fatal(err)
	}
	if l.asyncPreload {
		go d.Preload()
	} else {
		d.Preload()
	}
	h.d = d
	h.served = make(chan error, 1)
	go func() { h.served <- d.Serve() }()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.d == nil {
		return
	}
	h.d.Shutdown(context.Background())
	if err := <-h.served; err != nil {
		h.t.Errorf("serve: %v", err)
	}
	h.d = nil
}

func (h *harness) get(req client.TokenRequest) (*client.Token, error) {
	return h.c.Token(context.Background(), req)
}

func (h *harness) mustGet(req client.TokenRequest) *client.Token {
	h.t.Helper()
	tok, err := h.get(req)
	if err != nil {
		h.t.Fatalf("get: %v", err)
	}
	if !h.fake.Valid(tok.AccessToken) {
		h.t.Fatalf("daemon served a token the endpoint does not consider valid")
	}
	return tok
}

func (h *harness) entry(scope string) client.TokenStatus {
	h.t.Helper()
	st, err := h.c.Status(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range st.Entries {
		if e.Scope == scope {
			return e
		}
	}
	h.t.Fatalf("no entry for scope %q in %+v", scope, st.Entries)
	return client.TokenStatus{}
}

// waitFor polls cond (a state reached by a background goroutine) for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestColdConcurrentGetsMintOnce(t *testing.T) {
	h := newHarness(t)
	h.fake.SetDelay(100 * time.Millisecond) // keep the flight open while all clients pile up
	const n = 300
	var wg sync.WaitGroup
	toks := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := h.get(client.TokenRequest{})
			if err == nil {
				toks[i] = tok.AccessToken
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if toks[i] != toks[0] {
			t.Fatalf("client %d got a different token", i)
		}
	}
	if got := h.fake.TokenRequests(); got != 1 {
		t.Fatalf("upstream token requests = %d, want 1", got)
	}
	if !h.fake.Valid(toks[0]) {
		t.Fatal("token not valid at the endpoint")
	}
}

func TestRestartReusesStoredToken(t *testing.T) {
	h := newHarness(t)
	first := h.mustGet(client.TokenRequest{})
	h.stop()
	if _, err := os.Lstat(h.sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after shutdown: %v", err)
	}
	h.start()
	second := h.mustGet(client.TokenRequest{})
	if second.AccessToken != first.AccessToken {
		t.Fatal("restarted daemon minted a new token instead of reusing the stored one")
	}
	if got := h.fake.TokenRequests(); got != 1 {
		t.Fatalf("upstream requests = %d, want 1", got)
	}
	if e := h.entry("bot user.read"); e.State != "valid" || e.NextRenewal.IsZero() {
		t.Fatalf("preloaded entry: %+v", e)
	}
	// Requests racing the preload wait for it instead of minting.
	h.slowGets = 50 * time.Millisecond
	for range 3 {
		h.stop()
		h.startWith(launch{asyncPreload: true})
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got := h.mustGet(client.TokenRequest{}); got.AccessToken != first.AccessToken {
					t.Error("a request racing the preload got a new token")
				}
			}()
		}
		wg.Wait()
	}
	if got := h.fake.TokenRequests(); got != 1 {
		t.Fatalf("upstream requests = %d, want 1", got)
	}
}

func TestCorruptStoredTokenIsReplaced(t *testing.T) {
	h := newHarness(t)
	h.stop()
	k := keystore.TokenKey("default", "bot user.read")
	for _, bad := range []string{`{"v":1,"access_token":"x"`, `{"v":1}`, "garbage", `{"v":1,"access_token":"a","issued_at":"2030-01-01T00:00:00Z","expires_at":"2020-01-01T00:00:00Z"}`} {
		h.store.Set(context.Background(), k, []byte(bad))
		h.start()
		h.mustGet(client.TokenRequest{})
		h.stop()
		raw, _ := h.store.Get(context.Background(), k)
		if _, err := parseStoredToken(raw); err != nil {
			t.Fatalf("stored token after mint is unreadable: %v", err)
		}
	}
}

func TestOutageServesCachedTokenAndRecovers(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	h.fake.FailNext(-1, lwfake.Failure{Status: 503})
	// Past the renewal point (80% of 24 h): renewal fails, the cached token is still served.
	h.clock.Advance(20 * time.Hour)
	for range 3 {
		got := h.mustGet(client.TokenRequest{})
		if got.AccessToken != tok.AccessToken {
			t.Fatal("served another token during the outage")
		}
	}
	waitFor(t, "a failed renewal", func() bool { return h.entry("bot user.read").ConsecutiveFailures > 0 })
	e := h.entry("bot user.read")
	if e.Health != "retrying" || e.LastErrorCode != wire.CodeUnavailable || e.NextAttempt.IsZero() || !strings.Contains(e.LastError, "503") {
		t.Fatalf("status during outage: %+v", e)
	}
	// The token expires during the outage: never served, a clear error instead.
	h.clock.Advance(4 * time.Hour)
	_, err := h.get(client.TokenRequest{})
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("after expiry during outage: %v, want ErrUnavailable", err)
	}
	h.fake.ClearFailures()
	waitFor(t, "recovery", func() bool {
		tok, err := h.get(client.TokenRequest{})
		return err == nil && h.fake.Valid(tok.AccessToken)
	})
	if e := h.entry("bot user.read"); e.ConsecutiveFailures != 0 || e.LastError != "" || e.State != "valid" {
		t.Fatalf("status after recovery: %+v", e)
	}
}

func TestRejectedIsNotHammered(t *testing.T) {
	h := newHarness(t)
	h.store.Set(context.Background(), keystore.ClientSecretKey("default"), []byte("wrong"))
	for range 5 {
		_, err := h.get(client.TokenRequest{})
		if !errors.Is(err, client.ErrRejected) {
			t.Fatalf("err = %v, want ErrRejected", err)
		}
		if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), cs) {
			t.Fatalf("error leaks the secret: %v", err)
		}
	}
	if got := h.fake.TokenRequests(); got != 1 {
		t.Fatalf("upstream requests after 5 rejected gets = %d, want 1", got)
	}
	if e := h.entry("bot user.read"); e.Health != "rejected" {
		t.Fatalf("status: %+v", e)
	}
	// setup writes the right secret and reloads: the next get tries again at once.
	h.store.Set(context.Background(), keystore.ClientSecretKey("default"), []byte(cs))
	if err := h.c.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.mustGet(client.TokenRequest{})
	if got := h.fake.TokenRequests(); got != 2 {
		t.Fatalf("upstream requests = %d, want 2", got)
	}
}

func TestMinTTL(t *testing.T) {
	h := newHarness(t)
	h.fake.SetLifetime(time.Hour)
	tok := h.mustGet(client.TokenRequest{})
	// 1 h token, 40 min later: 20 min left; asking for 30 min renews first.
	h.clock.Advance(40 * time.Minute)
	tok2 := h.mustGet(client.TokenRequest{MinTTL: 30 * time.Minute})
	if tok2.AccessToken == tok.AccessToken {
		t.Fatal("token with less than min-ttl left was served")
	}
	if left := time.Until(tok2.ExpiresAt) - time.Duration(h.clock.off.Load()); left < 30*time.Minute {
		t.Fatalf("token has %s left", left)
	}
	// Longer than a 1 h token lives: a clear error, not a loop. The daemon knows the
	// lifetime from the token it holds (minted just now), so it does not ask again.
	before := h.fake.TokenRequests()
	_, err := h.get(client.TokenRequest{MinTTL: 2 * time.Hour})
	if !errors.Is(err, client.ErrBadRequest) || !strings.Contains(err.Error(), "longer than a fresh token") {
		t.Fatalf("err = %v", err)
	}
	if d := h.fake.TokenRequests() - before; d != 0 {
		t.Fatalf("upstream requests for an impossible min-ttl = %d, want 0", d)
	}
	// Longer than any token lives: refused without asking LINE WORKS.
	before = h.fake.TokenRequests()
	_, err = h.get(client.TokenRequest{MinTTL: 25 * time.Hour})
	if !errors.Is(err, client.ErrBadRequest) || !strings.Contains(err.Error(), "can never be met") {
		t.Fatalf("err = %v", err)
	}
	if h.fake.TokenRequests() != before {
		t.Fatal("an impossible min-ttl reached line works")
	}
}

func TestWallClockJumpRenewsAtOnce(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	h.clock.Advance(21 * time.Hour) // the machine slept past the renewal point (at ~19.2 h)
	got := h.mustGet(client.TokenRequest{})
	if got.AccessToken != tok.AccessToken {
		t.Fatal("the still-valid token should be served while renewing")
	}
	waitFor(t, "the renewed token to be served", func() bool {
		got, err := h.get(client.TokenRequest{})
		return err == nil && got.AccessToken != tok.AccessToken && h.fake.Valid(got.AccessToken)
	})
	if n := h.fake.TokenRequests(); n != 2 {
		t.Fatalf("upstream requests = %d, want 2", n)
	}
}

func TestScopesAndProfiles(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{Scope: "bot"})
	if tok.Scope != "bot" || tok.Profile != "default" {
		t.Fatalf("token %+v", tok)
	}
	h.mustGet(client.TokenRequest{Scope: "user.read,bot"}) // same set as the default: same entry
	if _, err := h.get(client.TokenRequest{Scope: "directory.read"}); !errors.Is(err, client.ErrBadRequest) || !strings.Contains(err.Error(), "not among profile") {
		t.Fatalf("scope outside the profile: %v", err)
	}
	if _, err := h.get(client.TokenRequest{Profile: "nope"}); !errors.Is(err, client.ErrNotConfigured) {
		t.Fatalf("unknown profile: %v", err)
	}
	if _, err := h.get(client.TokenRequest{Profile: "../x"}); !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("bad profile name: %v", err)
	}
	if got := h.fake.TokenRequests(); got != 2 {
		t.Fatalf("upstream = %d, want 2 (bot; bot user.read)", got)
	}
}

func TestMissingSecrets(t *testing.T) {
	h := newHarness(t)
	h.store.Delete(context.Background(), keystore.ClientSecretKey("default"))
	_, err := h.get(client.TokenRequest{})
	var ce *client.Error
	if !errors.Is(err, client.ErrNotConfigured) || !errors.As(err, &ce) || !strings.Contains(ce.Hint, "setup --profile default") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeyringTroubleKeepsServing(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	h.store.SetError(keystore.ErrLocked)
	h.clock.Advance(20 * time.Hour)
	if got := h.mustGet(client.TokenRequest{}); got.AccessToken != tok.AccessToken {
		t.Fatal("cached token not served while the keyring is locked")
	}
	// Renewal uses the credentials held in memory; storing the new token fails.
	waitFor(t, "renewal with a locked keyring", func() bool { return h.fake.Issued() == 2 })
	waitFor(t, "keyring error in status", func() bool {
		st, err := h.c.Status(context.Background())
		return err == nil && strings.Contains(st.Keyring, "locked")
	})
	h.store.SetError(nil)
	h.clock.Advance(20 * time.Hour)
	h.mustGet(client.TokenRequest{})
	waitFor(t, "recovery", func() bool {
		st, err := h.c.Status(context.Background())
		return err == nil && st.Keyring == "ok" && h.fake.Issued() == 3
	})
}

func TestKeyringLockedAtStartWithoutCache(t *testing.T) {
	h := newHarness(t)
	h.store.SetError(keystore.ErrLocked)
	_, err := h.get(client.TokenRequest{})
	if !errors.Is(err, client.ErrKeyring) {
		t.Fatalf("err = %v, want ErrKeyring", err)
	}
	h.store.SetError(nil)
	if err := h.c.Reload(context.Background()); err != nil { // or wait out the backoff
		t.Fatal(err)
	}
	h.mustGet(client.TokenRequest{})
}

func TestReloadKeepsUnchangedProfiles(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	cfg, _ := config.Load(h.cfg)
	cfg.Profiles["other"] = &config.Profile{ClientID: clientID, ServiceAccount: sa, Scopes: []string{"bot"}, AuthURL: h.fake.AuthURL}
	h.writeConfig(cfg)
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := h.mustGet(client.TokenRequest{}); got.AccessToken != tok.AccessToken || h.fake.TokenRequests() != 1 {
		t.Fatal("reload dropped the token of an unchanged profile")
	}
	cfg.Profiles["default"].Scopes = []string{"bot"}
	h.writeConfig(cfg)
	h.d.Reload()
	h.mustGet(client.TokenRequest{})
	if h.fake.TokenRequests() != 2 {
		t.Fatal("changed profile kept its old token")
	}
	os.WriteFile(h.cfg, []byte("[broken"), 0o600)
	if err := h.d.Reload(); err == nil {
		t.Fatal("broken config reloaded")
	}
	h.mustGet(client.TokenRequest{}) // previous config still in force
}

func TestBrowserAndForeignHostRefused(t *testing.T) {
	h := newHarness(t)
	for _, hdr := range []string{"Origin: https://evil.example\r\n", "Referer: https://evil.example/\r\n"} {
		status := rawRequest(t, h.sock, "GET /v1/token HTTP/1.1\r\nHost: lwtoken-helper\r\n"+hdr+"\r\n")
		if status != 403 {
			t.Fatalf("%q: status %d", hdr, status)
		}
	}
	if s := rawRequest(t, h.sock, "GET /v1/token HTTP/1.1\r\nHost: evil.example\r\n\r\n"); s != 403 {
		t.Fatalf("foreign host: %d", s)
	}
	if s := rawRequest(t, h.sock, "GET /v1/token HTTP/1.1\r\nHost: lwtoken-helper\r\nX-Big: "+strings.Repeat("a", 10<<10)+"\r\n\r\n"); s != 431 {
		t.Fatalf("oversized header: %d", s)
	}
	if s := rawRequest(t, h.sock, "GARBAGE\r\n\r\n"); s != 400 {
		t.Fatalf("malformed: %d", s)
	}
	if s := rawRequest(t, h.sock, "DELETE /v1/token HTTP/1.1\r\nHost: lwtoken-helper\r\n\r\n"); s != 405 {
		t.Fatalf("wrong method: %d", s)
	}
	if h.fake.TokenRequests() != 0 {
		t.Fatal("a refused request reached line works")
	}
}

func rawRequest(t *testing.T, sock, req string) int {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, req)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	var status int
	fmt.Sscanf(line, "HTTP/1.1 %d", &status)
	return status
}

func TestSecondDaemonRefusedAndStaleSocketReplaced(t *testing.T) {
	h := newHarness(t)
	d2, _ := New(Options{SocketPath: h.sock, ConfigPath: h.cfg, Secrets: h.store, Tokens: h.store})
	if err := d2.Listen(); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second daemon: %v", err)
	}
	h.mustGet(client.TokenRequest{}) // the first one still serves
	// A dead socket file (daemon killed) is replaced.
	h.stop()
	l, err := net.Listen("unix", h.sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	h.start()
	h.mustGet(client.TokenRequest{})
}

// namedCache is a token cache with its own name, to tell it from the secret source.
type namedCache struct {
	keystore.TokenCache
	name string
}

func (n namedCache) Describe() string { return n.name }

// Secrets are only read from the secret source; tokens (and their index) go only to the
// token cache, which is what a restarted daemon serves from; status names both.
func TestSecretSourceAndTokenCacheApart(t *testing.T) {
	h := newHarness(t)
	h.stop()
	cache := keystore.NewMemory()
	h.tokens = namedCache{cache, "test cache"}
	h.start()
	_, setsBefore, delsBefore := h.store.Calls()
	h.mustGet(client.TokenRequest{})
	if _, sets, dels := h.store.Calls(); sets != setsBefore || dels != delsBefore {
		t.Fatalf("the daemon wrote to the secret source: %d sets, %d deletes", sets-setsBefore, dels-delsBefore)
	}
	if got := h.store.Keys(); !slices.Equal(got, []string{keystore.ClientSecretKey("default"), keystore.PrivateKeyKey("default")}) {
		t.Fatalf("secret source holds %q", got)
	}
	keys := cache.Keys()
	if !slices.Contains(keys, keystore.TokenKey("default", "bot user.read")) {
		t.Fatalf("token cache holds %q, not the token", keys)
	}
	for _, k := range keys {
		if k == keystore.PrivateKeyKey("default") || k == keystore.ClientSecretKey("default") {
			t.Fatalf("token cache holds a secret: %q", keys)
		}
	}
	st, err := h.c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.SecretSource != "memory" || st.TokenCache != "test cache" {
		t.Fatalf("status: secret_source %q, token_cache %q", st.SecretSource, st.TokenCache)
	}
	h.stop()
	h.start()
	h.mustGet(client.TokenRequest{})
	if got := h.fake.TokenRequests(); got != 1 {
		t.Fatalf("a restart with the same token cache minted again: %d requests", got)
	}
}

// Without a token cache, tokens live in memory only: a restarted daemon mints anew.
func TestNoTokenCacheKeepsTokensInMemory(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.memTokens = true
	h.start()
	_, setsBefore, _ := h.store.Calls()
	h.mustGet(client.TokenRequest{})
	if _, sets, _ := h.store.Calls(); sets != setsBefore {
		t.Fatalf("the daemon wrote %d items to the secret source", sets-setsBefore)
	}
	st, err := h.c.Status(context.Background())
	if err != nil || st.TokenCache != "memory" {
		t.Fatalf("status: %+v %v", st, err)
	}
	h.stop()
	h.start()
	h.mustGet(client.TokenRequest{})
	if got := h.fake.TokenRequests(); got != 2 {
		t.Fatalf("token requests after a restart with no cache: %d, want 2", got)
	}
}
