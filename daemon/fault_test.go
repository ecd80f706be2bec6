package daemon

// In-process fault tests of the retry policy, the keyring probe, persistence order and
// connection shedding (the e2e package drives the same faults through the real process).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// restartWith stops h's daemon and starts another with tweaked options (same store,
// config, clock and socket).
func fastRetries(o *Options) {
	o.BackoffBase, o.BackoffCap, o.UpstreamTimeout = 10*time.Millisecond, 100*time.Millisecond, time.Second
}

func TestBackoffDelay(t *testing.T) {
	for _, tc := range []struct {
		n        int
		lo, hi   time.Duration
		base, mx time.Duration
	}{
		{0, 500 * time.Millisecond, time.Second, time.Second, 5 * time.Minute}, // treated as 1
		{1, 500 * time.Millisecond, time.Second, time.Second, 5 * time.Minute},
		{2, time.Second, 2 * time.Second, time.Second, 5 * time.Minute},
		{9, 128 * time.Second, 256 * time.Second, time.Second, 5 * time.Minute},
		{10, 150 * time.Second, 300 * time.Second, time.Second, 5 * time.Minute}, // capped
		{1 << 20, 150 * time.Second, 300 * time.Second, time.Second, 5 * time.Minute},
		{5, time.Second, 2 * time.Second, 200 * time.Millisecond, 2 * time.Second},
	} {
		lo, hi := backoffDelay(tc.base, tc.mx, tc.n, 0), backoffDelay(tc.base, tc.mx, tc.n, 0.999999999)
		if lo != tc.lo || hi < tc.hi-time.Millisecond || hi > tc.hi {
			t.Errorf("backoffDelay(%s, %s, %d) spans [%s, %s], want [%s, %s]", tc.base, tc.mx, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
}

// During an outage the cached token is served and the endpoint is asked on the backoff
// schedule, not once per request (it was once per request before the fix).
func TestOutageRetriesOnScheduleNotPerRequest(t *testing.T) {
	h := newHarness(t)
	h.restart(launch{options: fastRetries})
	tok := h.mustGet(client.TokenRequest{})
	h.fake.FailNext(-1, lwfake.Failure{Status: 503})
	h.clock.Advance(21 * time.Hour)
	served := 0
	for start := time.Now(); time.Since(start) < 700*time.Millisecond; time.Sleep(time.Millisecond) {
		if got := h.mustGet(client.TokenRequest{}); got.AccessToken != tok.AccessToken {
			t.Fatal("another token during the outage")
		}
		served++
	}
	// 10-20 ms, 20-40, 40-80, then 50-100 ms: at most about 14 attempts in 0.7 s.
	if n := h.fake.TokenRequests() - 1; n < 4 || n > 16 {
		t.Fatalf("%d upstream attempts while %d gets were served in 0.7 s", n, served)
	}
	h.fake.ClearFailures()
	waitFor(t, "recovery without a request", func() bool {
		st, _ := h.c.Status(context.Background())
		return st != nil && len(st.Entries) == 1 && st.Entries[0].Health == "ok" && st.Entries[0].Fingerprint != secret.New(tok.AccessToken).Fingerprint()
	})
}

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	for _, tc := range []struct {
		ra   string
		want time.Duration
	}{
		{"120", 2 * time.Minute},
		{"7200", maxRetryAfter}, // capped at an hour
		{"0", 500 * time.Millisecond},
	} {
		t.Run(tc.ra, func(t *testing.T) {
			h := newHarness(t)
			h.fake.FailNext(1, lwfake.Failure{Status: 429, RetryAfter: tc.ra})
			_, err := h.get(client.TokenRequest{})
			if !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "429") {
				t.Fatalf("err = %v", err)
			}
			e := h.entry("bot user.read")
			st, _ := h.c.Status(context.Background())
			if got := e.NextAttempt.Sub(st.Now); got < tc.want-2*time.Second || got > tc.want+time.Second {
				t.Fatalf("next attempt in %s, want %s", got, tc.want)
			}
			// Requests before then do not reach LINE WORKS; they get the error and when.
			_, err = h.get(client.TokenRequest{})
			if !strings.Contains(err.Error(), "next attempt in") || h.fake.TokenRequests() != 1 {
				t.Fatalf("second get: %v, %d requests", err, h.fake.TokenRequests())
			}
		})
	}
}

func TestImpossibleMinTTLIsNotALoop(t *testing.T) {
	h := newHarness(t)
	h.fake.SetLifetime(time.Hour)
	h.mustGet(client.TokenRequest{})
	for range 5 {
		if _, err := h.get(client.TokenRequest{MinTTL: 2 * time.Hour}); !errors.Is(err, client.ErrBadRequest) {
			t.Fatalf("err = %v", err)
		}
	}
	if n := h.fake.TokenRequests(); n != 1 {
		t.Fatalf("upstream requests = %d, want 1", n)
	}
	// After the slow schedule the daemon asks once more (the app's lifetime may have
	// changed to 24 h), then knows again.
	h.clock.Advance(rejectedRetry + time.Minute)
	for range 3 {
		h.get(client.TokenRequest{MinTTL: 2 * time.Hour})
	}
	if n := h.fake.TokenRequests(); n != 2 {
		t.Fatalf("upstream requests = %d, want 2", n)
	}
	h.fake.SetLifetime(24 * time.Hour)
	h.clock.Advance(rejectedRetry + time.Minute)
	if tok := h.mustGet(client.TokenRequest{MinTTL: 2 * time.Hour}); time.Until(tok.ExpiresAt)+time.Duration(h.clock.off.Load()) < 2*time.Hour {
		t.Fatal("served a token shorter than min-ttl")
	}
}

// A keyring that fails when the daemon renews: the renewal uses the secrets in memory,
// the new token is served from memory, and written as soon as the keyring answers again,
// without any request.
func TestKeyringProbeStoresTheTokenItMissed(t *testing.T) {
	h := newHarness(t)
	h.restart(launch{options: fastRetries})
	h.mustGet(client.TokenRequest{})
	h.store.SetError(keystore.ErrLocked)
	h.clock.Advance(21 * time.Hour)
	h.mustGet(client.TokenRequest{})
	waitFor(t, "renewal", func() bool { return h.fake.Issued() == 2 && h.entry("bot user.read").Health == "ok" })
	fresh := h.mustGet(client.TokenRequest{})
	st, _ := h.c.Status(context.Background())
	if !strings.Contains(st.Keyring, "locked") {
		t.Fatalf("keyring status %q", st.Keyring)
	}
	h.store.SetError(nil)
	waitFor(t, "the probe to write the token", func() bool {
		st, _ := h.c.Status(context.Background())
		raw, err := h.store.Get(context.Background(), keystore.TokenKey("default", "bot user.read"))
		if err != nil || st.Keyring != "ok" {
			return false
		}
		s, err := parseStoredToken(raw)
		return err == nil && s.Access.Reveal() == fresh.AccessToken
	})
}

// A keyring that fails when the daemon starts: the stored token is read once it answers
// again (no mint), without a request.
func TestKeyringDownAtStartRecoversStoredToken(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	h.store.SetError(keystore.ErrUnavailable)
	h.restart(launch{options: fastRetries})
	if _, err := h.get(client.TokenRequest{}); !errors.Is(err, client.ErrKeyring) {
		t.Fatalf("err = %v, want ErrKeyring", err)
	}
	h.store.SetError(nil)
	waitFor(t, "the stored token", func() bool {
		e := h.entry("bot user.read")
		return e.State == "valid" && e.Fingerprint == secret.New(tok.AccessToken).Fingerprint()
	})
	if got := h.mustGet(client.TokenRequest{}); got.AccessToken != tok.AccessToken || h.fake.TokenRequests() != 1 {
		t.Fatal("minted although a valid token was stored")
	}
}

// Writes happen in minting order, whatever the wall clock says.
func TestPersistOrder(t *testing.T) {
	h := newHarness(t)
	store, b := h.store, h.d.broker
	e := b.entry("default", []string{"bot"})
	now := time.Now()
	tok := func(name string, seq uint64, issued time.Time) *cachedToken {
		return &cachedToken{Access: secret.New(name), TokenType: "Bearer", Scope: "bot", IssuedAt: issued, Expiry: issued.Add(time.Hour), seq: seq}
	}
	stored := func() string {
		raw, err := store.Get(context.Background(), keystore.TokenKey("default", "bot"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := parseStoredToken(raw)
		if err != nil {
			t.Fatal(err)
		}
		return s.Access.Reveal()
	}
	b.persist(e, tok("second", 2, now))
	b.persist(e, tok("first", 1, now.Add(time.Minute))) // minted earlier, written late: skipped
	if got := stored(); got != "second" {
		t.Fatalf("stored %q", got)
	}
	b.persist(e, tok("third", 3, now.Add(-3*time.Hour))) // the clock was stepped back: still newer
	if got := stored(); got != "third" {
		t.Fatalf("stored %q", got)
	}
	store.SetError(keystore.ErrLocked)
	if b.persist(e, tok("fourth", 4, now)) || e.unsaved == nil || e.unsaved.Access.Reveal() != "fourth" {
		t.Fatal("a failed write was not kept for later")
	}
	store.SetError(nil)
	b.probeKeyring()
	if got := stored(); got != "fourth" || e.unsaved != nil {
		t.Fatalf("after the keyring came back: stored %q, unsaved %v", got, e.unsaved != nil)
	}
}

// At the connection limit, slow and silent connections are shed (oldest first) so that
// a normal request gets through; a connection whose request is being handled is not.
func TestSlowConnectionsAreShed(t *testing.T) {
	h := newHarness(t)
	h.restart(launch{options: func(o *Options) { o.MaxConns = 8 }})
	h.fake.SetDelay(1500 * time.Millisecond)
	busy := make(chan error, 1)
	go func() { _, err := h.get(client.TokenRequest{}); busy <- err }() // a cold get: handled, waiting on LINE WORKS
	waitFor(t, "the cold get at the endpoint", func() bool { return h.fake.TokenRequests() == 1 })
	var conns []net.Conn
	for range 20 { // 7 fit, the rest queue
		c, err := net.Dial("unix", h.sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		c.Write([]byte("GET /v1/status HTTP/1.1\r\n")) // and never the rest
	}
	start := time.Now()
	st, err := (&client.Client{SocketPath: h.sock, Timeout: 10 * time.Second}).Status(context.Background())
	if err != nil || st == nil {
		t.Fatalf("status with the slots held by slow clients: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("status took %s with slow clients holding the slots", took)
	}
	if err := <-busy; err != nil {
		t.Fatalf("the connection being handled was shed: %v", err)
	}
	// Shed connections are closed, not left hanging.
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var ne net.Error
		if _, err := c.Read(make([]byte, 1)); err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			closed++
		}
	}
	if closed == 0 {
		t.Fatal("no slow connection was shed")
	}
}

// A body the daemon does not read is refused at once, not drained until the read timeout.
func TestUnreadBodiesRefusedAtOnce(t *testing.T) {
	h := newHarness(t)
	for _, req := range []string{
		"POST /v1/reload HTTP/1.1\r\nHost: lwtoken-helper\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n",
		"POST /v1/reload HTTP/1.1\r\nHost: lwtoken-helper\r\nContent-Length: 100000\r\n\r\nabc",
	} {
		c, err := net.Dial("unix", h.sock)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, req)
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil || !(strings.Contains(line, " 411 ") || strings.Contains(line, " 413 ")) {
			t.Fatalf("%q: %q %v", req[:40], line, err)
		}
		// The daemon closes the connection right after the answer.
		for err == nil {
			_, err = r.ReadString('\n')
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("%q: connection held for %s", req[:40], took)
		}
		c.Close()
	}
}

// Many concurrent requests during a slow renewal and an outage: single flight per entry,
// no data race (run with -race), every answer a valid token or a clean error.
func TestConcurrentChaos(t *testing.T) {
	h := newHarness(t)
	h.restart(launch{options: fastRetries})
	h.mustGet(client.TokenRequest{})
	h.fake.SetDelay(20 * time.Millisecond)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	bad := map[string]int{}
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req := client.TokenRequest{}
				before := h.clock.Now()
				switch i % 4 {
				case 1:
					req.Scope = "bot"
				case 2:
					req.MinTTL = 30 * time.Minute
				case 3:
					h.c.Status(context.Background())
					continue
				}
				tok, err := h.get(req)
				if err == nil && !tok.ExpiresAt.After(before.Add(minServeTTL-time.Second)) {
					mu.Lock()
					bad["expired token served"]++
					mu.Unlock()
				}
				if err != nil && !errors.Is(err, client.ErrUnavailable) && !errors.Is(err, client.ErrKeyring) {
					mu.Lock()
					bad[err.Error()]++
					mu.Unlock()
				}
			}
		}()
	}
	for _, step := range []func(){
		func() { h.clock.Advance(21 * time.Hour) },
		func() { h.fake.FailNext(-1, lwfake.Failure{Status: 502}) },
		func() { h.clock.Advance(4 * time.Hour) },
		func() { h.d.Reload() },
		func() { h.fake.ClearFailures() },
		func() { h.store.SetError(keystore.ErrLocked) },
		func() { h.clock.Advance(21 * time.Hour) },
		func() { h.store.SetError(nil) },
	} {
		step()
		time.Sleep(150 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("unexpected outcomes: %v", bad)
	}
	st, _ := h.c.Status(context.Background())
	b, _ := json.Marshal(st.Entries)
	t.Logf("entries after the chaos: %s", b)
	for _, e := range st.Entries {
		if e.LastErrorCode != "" && e.LastErrorCode != wire.CodeUnavailable && e.LastErrorCode != wire.CodeKeyring {
			t.Fatalf("entry %+v", e)
		}
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A token request whose assertion outlives its life in flight (the machine slept, or the
// clock was stepped, between signing and the endpoint's check) is refused as an expired
// assertion. That says nothing about the credentials: the daemon signs a fresh assertion
// and asks once more, instead of answering "rejected" and backing off. A refusal without a
// clock step is not asked again.
func TestAssertionAgedInFlightIsSignedAgain(t *testing.T) {
	h := newHarness(t)
	var step atomic.Bool
	h.restart(launch{options: func(o *Options) {
		o.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if step.Swap(false) {
				h.clock.Advance(time.Hour) // after signing, before the endpoint checks
			}
			return http.DefaultTransport.RoundTrip(r)
		})}
	}})
	before := h.fake.TokenRequests()
	step.Store(true)
	h.mustGet(client.TokenRequest{Scope: "bot"})
	if n := h.fake.TokenRequests() - before; n != 2 {
		t.Fatalf("token requests: %d, want the aged one and one with a fresh assertion", n)
	}
	if e := h.entry("bot"); e.UpstreamRequests != 2 {
		t.Errorf("the entry counts %d upstream requests, want 2", e.UpstreamRequests)
	}

	h.store.Set(context.Background(), keystore.ClientSecretKey("default"), []byte("wrong"))
	before = h.fake.TokenRequests()
	_, err := h.get(client.TokenRequest{Scope: "user.read"})
	if !errors.Is(err, client.ErrRejected) {
		t.Fatalf("wrong client secret: %v, want rejected", err)
	}
	if n := h.fake.TokenRequests() - before; n != 1 {
		t.Fatalf("a refusal without a clock step was sent %d times", n)
	}
}
