//go:build unix

package e2e

// Fault injection against the real daemon process: LINE WORKS outages of every kind,
// rejections, clock jumps, kill -9 and SIGTERM, a locked or stopped Secret Service, and
// config changes. Each test logs its figures as "TABLE | fault | client saw | upstream |
// lost" lines (go test -v -run 'Fault|Load' ./e2e | grep TABLE); docs/reliability.md
// holds the table they make.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// Timing of the daemons in these tests: a token request gives up after 1 s (instead of
// 30 s) and retries are spaced 0.1-0.2 s, 0.2-0.4 s, ... up to 1-2 s (instead of 0.5-1 s
// up to 2.5-5 min), so that many retries of the real process fit in a few seconds. The
// shape of the schedule is the production one.
const (
	faultUpstreamTimeout = time.Second
	faultBackoffBase     = 200 * time.Millisecond
	faultBackoffCap      = 2 * time.Second
	defaultScope         = "bot user.read" // the canonical scope set of x.setup()
)

func init() {
	// Binaries built with -race sleep 1 s at exit by default (GORACE atexit_sleep_ms):
	// that would add a second to every command these tests run. Races are still reported
	// (checked in startDaemonEnv's cleanup for the daemon).
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
}

// startFaultDaemon starts `lwtoken-helperd run` with the fault-test timing.
func (x *h) startFaultDaemon(args ...string) {
	x.t.Helper()
	x.startFaultDaemonTee(nil, args...)
}

// startFaultDaemonTee is startFaultDaemon that also copies the daemon's log to tee.
func (x *h) startFaultDaemonTee(tee io.Writer, args ...string) {
	x.t.Helper()
	x.startDaemonEnv([]string{fmt.Sprintf("LWTOKEN_HELPERD_TEST_BACKOFF=%s,%s", faultBackoffBase, faultBackoffCap)}, tee,
		append([]string{"--upstream-timeout", faultUpstreamTimeout.String()}, args...)...)
}

func (x *h) goClient() *client.Client {
	return &client.Client{SocketPath: x.sock, Timeout: 30 * time.Second}
}

// entryStatus returns the status of (x.profile, scope) through the Go client (fast, for polling).
func (x *h) entryStatus(profile, scope string) (client.TokenStatus, *client.Status) {
	x.t.Helper()
	st, err := x.goClient().Status(context.Background())
	if err != nil {
		x.t.Fatalf("status: %v", err)
	}
	for _, e := range st.Entries {
		if e.Profile == profile && e.Scope == scope {
			return e, st
		}
	}
	return client.TokenStatus{Profile: profile, Scope: scope, State: "absent"}, st
}

// statusCLI runs the real `lwtoken-helper status --json` and returns the entry.
func (x *h) statusCLI(profile, scope string) (client.TokenStatus, *client.Status) {
	x.t.Helper()
	r := x.helper("status", "--json")
	var st client.Status
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		x.t.Fatalf("status --json: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, e := range st.Entries {
		if e.Profile == profile && e.Scope == scope {
			return e, &st
		}
	}
	x.t.Fatalf("status has no entry for %s %q: %+v", profile, scope, st.Entries)
	return client.TokenStatus{}, nil
}

// waitUntil polls cond every 20 ms for up to timeout and returns how long it took.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tableRow logs one row of the reliability table.
func tableRow(t *testing.T, fault, saw, upstream, lost string) {
	t.Helper()
	t.Logf("TABLE | %s | %s | %s | %s", fault, saw, upstream, lost)
}

// storedItem is the daemon's keyring copy of a token, read by this test process.
type storedItem struct {
	V           int       `json:"v"`
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	Scope       string    `json:"scope"`
	IssuedAt    time.Time `json:"issued_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	ClientID    string    `json:"client_id"`
	AuthURL     string    `json:"auth_url"`
}

// stored reads and strictly parses the keyring item of (x.profile, scope).
func (x *h) stored(scope string) (storedItem, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := (&keystore.Keyring{}).Get(ctx, keystore.TokenKey(x.profile, scope))
	if err != nil {
		return storedItem{}, err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var s storedItem
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("stored token does not parse: %w", err)
	}
	if s.V != 1 || s.AccessToken == "" || !s.ExpiresAt.After(s.IssuedAt) || s.ClientID != x.clientID || s.Scope != scope {
		return s, fmt.Errorf("stored token is inconsistent: v=%d token=%v issued=%s expires=%s client=%q scope=%q",
			s.V, s.AccessToken != "", s.IssuedAt, s.ExpiresAt, s.ClientID, s.Scope)
	}
	return s, nil
}

// failureGaps returns the intervals between the daemon's "token request failed" log
// lines written after since (the log's time= is the real clock, not the test clock).
func (x *h) failureGaps(since time.Time) []time.Duration {
	var out []time.Duration
	var prev time.Time
	for _, line := range strings.Split(x.log(), "\n") {
		if !strings.Contains(line, `msg="token request failed"`) || !strings.HasPrefix(line, "time=") {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || at.Before(since) {
			continue
		}
		if !prev.IsZero() {
			out = append(out, at.Sub(prev).Round(10*time.Millisecond))
		}
		prev = at
	}
	return out
}

// gate is a TCP relay in front of the fake that can be shut (connections refused, like a
// dead host's closed port) and opened again on the same port.
type gate struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newGate(t *testing.T, targetURL string) *gate {
	u, err := url.Parse(targetURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{t: t, addr: ln.Addr().String(), target: u.Host, conns: map[net.Conn]bool{}}
	g.serve(ln)
	t.Cleanup(g.shut)
	return g
}

func (g *gate) url() string { return "http://" + g.addr + lwfake.AuthPath }

func (g *gate) serve(ln net.Listener) {
	g.mu.Lock()
	g.ln = ln
	g.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go g.relay(c)
		}
	}()
}

func (g *gate) track(cs ...net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return false
	}
	for _, c := range cs {
		g.conns[c] = true
	}
	return true
}

func (g *gate) relay(c net.Conn) {
	u, err := net.Dial("tcp", g.target)
	if err != nil {
		c.Close()
		return
	}
	if !g.track(c, u) {
		c.Close()
		u.Close()
		return
	}
	go func() { io.Copy(u, c); u.Close() }()
	io.Copy(c, u)
	c.Close()
}

// shut closes the listener and every relayed connection: new connections are refused.
func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil {
		g.ln.Close()
		g.ln = nil
	}
	for c := range g.conns {
		c.Close()
	}
	clear(g.conns)
}

// open listens on the same port again.
func (g *gate) open() {
	ln, err := net.Listen("tcp", g.addr)
	if err != nil {
		g.t.Fatalf("gate: listen again on %s: %v", g.addr, err)
	}
	g.serve(ln)
}

// ---- 1. outages ----------------------------------------------------------------------

type outage struct {
	name    string
	failure *lwfake.Failure // injected at the fake; nil: the gate is shut instead
	want    string          // in status' last_error and in get's error once the token expired
}

func TestFaultOutages(t *testing.T) {
	for _, o := range []outage{
		{"500", &lwfake.Failure{Status: 500}, "500 server_error"},
		{"502", &lwfake.Failure{Status: 502}, "502 server_error"},
		{"503", &lwfake.Failure{Status: 503}, "503 temporarily_unavailable"},
		{"429 retry-after 2", &lwfake.Failure{Status: 429, RetryAfter: "2"}, "429 too_many_requests"},
		{"hang past the request timeout", &lwfake.Failure{Hang: true}, "context deadline exceeded"},
		{"dropped connection", &lwfake.Failure{Drop: true}, "EOF"},
		{"refused connection", nil, "connection refused"},
	} {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			testOutage(t, o)
		})
	}
}

func testOutage(t *testing.T, o outage) {
	x := newH(t)
	g := newGate(t, x.fake.AuthURL)
	x.setup("--auth-url", g.url())
	x.startFaultDaemon()
	tok := x.getToken()

	// The outage starts; the machine's clock passes the renewal point (at most 85% of
	// 24 h = 20.4 h) with 3 h of the token's life left.
	if o.failure != nil {
		x.fake.FailNext(-1, *o.failure)
	} else {
		g.shut()
	}
	x.setClock(21 * time.Hour)
	start := time.Now()
	const window = 6 * time.Second
	served, failed := 0, 0
	var firstErr error
	c := x.goClient()
	for time.Since(start) < window {
		got, err := c.Token(context.Background(), client.TokenRequest{})
		switch {
		case err != nil:
			failed++
			if firstErr == nil {
				firstErr = err
			}
		case got.AccessToken != tok:
			t.Fatal("a different token was served during the outage")
		default:
			served++
		}
		time.Sleep(20 * time.Millisecond)
	}
	if failed > 0 {
		t.Fatalf("%d of %d gets failed during the outage although the cached token was valid: %v", failed, served+failed, firstErr)
	}
	if r := x.helper("get"); r.code != 0 || strings.TrimSpace(r.stdout) != tok {
		t.Fatalf("get during the outage: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	seenBefore := x.fake.TokenRequests()
	e, st := x.statusCLI(x.profile, defaultScope)
	seenAfter := x.fake.TokenRequests()
	attempts := e.UpstreamRequests - 1
	gaps := x.failureGaps(start)
	t.Logf("%s: %d gets served the cached token in %s; %d upstream attempts (intervals %v); status: health=%s failures=%d last_error=%q next_attempt in %s",
		o.name, served, window, attempts, gaps, e.Health, e.ConsecutiveFailures, e.LastError, e.NextAttempt.Sub(st.Now).Round(10*time.Millisecond))
	if e.State != "valid" || (e.Health != "retrying" && e.Health != "renewing") || e.LastErrorCode != wire.CodeUnavailable || !strings.Contains(e.LastError, o.want) ||
		e.ConsecutiveFailures < 2 || e.NextAttempt.IsZero() || e.NextAttempt.Before(st.Now.Add(-time.Second)) {
		t.Fatalf("status during the outage: %+v", e)
	}
	// Backoff: a handful of attempts, not one per get; spaced as the schedule says.
	if attempts < 2 || attempts > 10 {
		t.Fatalf("%d upstream attempts in %s while %d gets were served; want 2..10", attempts, window, served)
	}
	// The daemon counts a request before it is sent: at most one more than the fake saw.
	if o.failure != nil && (e.UpstreamRequests < seenBefore || e.UpstreamRequests > seenAfter+1) {
		t.Fatalf("the fake saw %d..%d requests, the daemon counted %d", seenBefore, seenAfter, e.UpstreamRequests)
	}
	for _, gap := range gaps {
		limit := faultBackoffCap + faultUpstreamTimeout + time.Second // slack for a loaded machine
		if gap > limit {
			t.Fatalf("retry interval %s exceeds the cap (%s)", gap, limit)
		}
		if o.failure != nil && o.failure.RetryAfter != "" && gap < 1900*time.Millisecond {
			t.Fatalf("retry %s after a 429 with Retry-After: 2", gap)
		}
	}
	if o.failure != nil && o.failure.RetryAfter == "" && len(gaps) >= 3 && gaps[len(gaps)-1] < gaps[0] {
		t.Fatalf("intervals do not grow: %v", gaps)
	}
	human := x.helper("status")
	if !strings.Contains(human.stdout, "in a row, next attempt") || !strings.Contains(human.stdout, o.want) {
		t.Fatalf("status does not show the failure:\n%s", human.stdout)
	}

	// The token expires during the outage: never served; a clear error, exit 6.
	x.setClock(24*time.Hour + time.Minute)
	before, _ := x.entryStatus(x.profile, defaultScope)
	r := x.helper("get")
	checkErr(t, r, 6, "line works is unreachable and no valid token is cached", o.want, "hint:")
	after, _ := x.entryStatus(x.profile, defaultScope)
	if r.stdout != "" || after.State != "expired" {
		t.Fatalf("after expiry: stdout %q, state %s", r.stdout, after.State)
	}
	expiredCost := after.UpstreamRequests - before.UpstreamRequests

	// The endpoint recovers: the daemon notices on its own (no get), at its next retry.
	if o.failure != nil {
		x.fake.ClearFailures()
	} else {
		g.open()
	}
	healed := time.Now()
	took := waitUntil(t, "recovery without a request", 10*time.Second, func() bool {
		e, _ := x.entryStatus(x.profile, defaultScope)
		return e.State == "valid" && e.Health == "ok"
	})
	if took > faultBackoffCap+faultUpstreamTimeout+2*time.Second {
		t.Fatalf("recovery took %s", took)
	}
	fresh := x.getToken()
	if fresh == tok {
		t.Fatal("the expired token was served after recovery")
	}
	final, _ := x.entryStatus(x.profile, defaultScope)
	s, err := x.stored(defaultScope)
	if err != nil || s.AccessToken != fresh {
		t.Fatalf("the keyring does not hold the new token: %v", err)
	}
	t.Logf("%s: expired-token get cost %d upstream requests; recovered %s after the endpoint did; %d upstream requests in all; status %s/%s",
		o.name, expiredCost, took.Round(10*time.Millisecond), final.UpstreamRequests, final.State, final.Health)
	_ = healed
	tableRow(t, "outage: "+o.name,
		fmt.Sprintf("token valid: exit 0 with the cached token (%d/%d gets); expired: exit 6 `%s`", served, served, o.want),
		fmt.Sprintf("%d attempts in %s (intervals %v); %d for the expired get; %d in all", attempts, window, gaps, expiredCost, final.UpstreamRequests),
		fmt.Sprintf("nothing: recovered %s after the endpoint, no request needed; new token stored", took.Round(10*time.Millisecond)))
}

// TestFaultDNSFailure points the profile at a name that does not resolve. A token stored
// earlier is served (no upstream request can succeed), renewals fail with the resolver's
// error, the expired token is never served, and fixing the config (SIGHUP) recovers.
func TestFaultDNSFailure(t *testing.T) {
	t.Parallel()
	x := newH(t)
	const badURL = "https://auth.invalid/oauth2/v2.0"
	x.setup("--auth-url", badURL)
	// A valid token minted earlier (as by a daemon that had a working network), stored
	// the way the daemon stores it.
	cl := &lwauth.Client{AuthURL: x.fake.AuthURL}
	lt, err := cl.Token(context.Background(), lwauth.Credentials{ClientID: x.clientID, ServiceAccount: "bot.serviceaccount@example.com",
		ClientSecret: secret.New(x.secret), PrivateKey: testkey.App()}, []string{"bot", "user.read"})
	if err != nil {
		t.Fatal(err)
	}
	item, _ := json.Marshal(storedItem{V: 1, AccessToken: lt.AccessToken.Reveal(), TokenType: "Bearer", Scope: defaultScope,
		IssuedAt: lt.IssuedAt.UTC(), ExpiresAt: lt.Expiry.UTC(), ClientID: x.clientID, AuthURL: badURL})
	if err := (&keystore.Keyring{}).Set(context.Background(), keystore.TokenKey(x.profile, defaultScope), item); err != nil {
		t.Fatal(err)
	}
	tok := lt.AccessToken.Reveal()
	x.startFaultDaemon()
	if got := x.getToken(); got != tok {
		t.Fatal("the stored token was not served")
	}
	x.setClock(21 * time.Hour)
	start := time.Now()
	served := 0
	for time.Since(start) < 4*time.Second {
		got, err := x.goClient().Token(context.Background(), client.TokenRequest{})
		if err != nil || got.AccessToken != tok {
			t.Fatalf("get during the DNS failure: %v", err)
		}
		served++
		time.Sleep(20 * time.Millisecond)
	}
	e, _ := x.statusCLI(x.profile, defaultScope)
	if e.State != "valid" || e.Health != "retrying" || !strings.Contains(e.LastError, "no such host") || e.ConsecutiveFailures < 2 {
		t.Fatalf("status: %+v", e)
	}
	attempts := e.UpstreamRequests
	if attempts < 2 || attempts > 9 {
		t.Fatalf("%d attempts in 4 s", attempts)
	}
	x.setClock(24*time.Hour + time.Minute)
	r := x.helper("get")
	checkErr(t, r, 6, "line works is unreachable and no valid token is cached", "no such host")
	// Recovery: the config names a reachable endpoint again; SIGHUP.
	cfg, err := config.Load(x.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Profiles[x.profile].AuthURL = x.fake.AuthURL
	if err := config.Save(x.config, cfg); err != nil {
		t.Fatal(err)
	}
	x.daemon.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the reload", 5*time.Second, func() bool { return strings.Contains(x.log(), "config reloaded") })
	fresh := x.getToken()
	if fresh == tok {
		t.Fatal("expired token served")
	}
	tableRow(t, "outage: DNS failure (auth_url https://auth.invalid)",
		fmt.Sprintf("token valid: exit 0 with the stored token (%d/%d gets); expired: exit 6 `no such host`", served, served),
		fmt.Sprintf("%d attempts in 4 s; 1 after the config was fixed", attempts),
		"nothing: a name that cannot resolve recovers when the config is fixed (SIGHUP), no restart")
}

// ---- 2. rejections -------------------------------------------------------------------

func TestFaultRejections(t *testing.T) {
	otherKey := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(otherKey, testkey.PEM(testkey.Other()), 0o600)
	for _, rc := range []struct {
		name        string
		breakArgs   []string // setup arguments that break the profile
		breakStdin  string
		fixArgs     []string
		fixStdin    string
		scope       string // the entry's scope after the change
		want        string
		keepsCached bool // the profile's settings are unchanged, so its cached token stays
	}{
		{"bad client secret", nil, "cs-wrong-secret\n", nil, "RIGHT", defaultScope, "invalid_client", true},
		{"bad key (assertion signature)", []string{"--private-key-file", otherKey}, "", []string{"--private-key-file", ""}, "", defaultScope, "invalid_grant", true},
		{"scope not allowed for the app", []string{"--scope", "bot calendar"}, "", []string{"--scope", "bot user.read"}, "", "bot calendar", "invalid_scope", false},
	} {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			x := newH(t)
			x.setup()
			x.startFaultDaemon()
			tok := x.getToken()
			setup := func(stdin string, args []string) {
				t.Helper()
				for i, a := range args {
					if a == "" { // placeholder for this test's own key file
						args = slices.Clone(args)
						args[i] = x.keyFile
					}
				}
				r := x.runCmd(bin.daemon, stdin, append([]string{"setup", "--profile", x.profile}, args...)...)
				if r.code != 0 || !strings.Contains(r.stdout, "reloaded") {
					t.Fatalf("setup: exit %d %s %s", r.code, r.stdout, r.stderr)
				}
			}
			setup(rc.breakStdin, rc.breakArgs)
			savedCached := 0
			if rc.keepsCached {
				// The token in hand stays served; its renewal is rejected once.
				if got := x.getToken(); got != tok {
					t.Fatal("setup dropped the valid token of an unchanged profile")
				}
				x.setClock(21 * time.Hour)
				for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
					got, err := x.goClient().Token(context.Background(), client.TokenRequest{})
					if err != nil || got.AccessToken != tok {
						t.Fatalf("cached token not served while the renewal is rejected: %v", err)
					}
					savedCached++
				}
				if n := x.fake.TokenRequests(); n != 2 {
					t.Fatalf("upstream requests = %d, want 2 (mint, one rejected renewal)", n)
				}
			}
			x.setClock(24*time.Hour + time.Minute)
			before := x.fake.TokenRequests()
			var first result
			for i := range 10 {
				r := x.helper("get")
				checkErr(t, r, 5, "line works rejected the request", rc.want, "hint: check the client id")
				if i == 0 {
					first = r
				}
			}
			cost := x.fake.TokenRequests() - before
			if cost > 1 {
				t.Fatalf("10 gets after a rejection cost %d upstream requests, want at most 1", cost)
			}
			// No retries on their own either (slow schedule: 15 min).
			time.Sleep(2 * time.Second)
			if d := x.fake.TokenRequests() - before - cost; d != 0 {
				t.Fatalf("%d retries of a rejected request in 2 s", d)
			}
			e, st := x.statusCLI(x.profile, rc.scope)
			next := e.NextAttempt.Sub(st.Now)
			if e.Health != "rejected" || e.LastErrorCode != wire.CodeRejected || !strings.Contains(e.LastError, rc.want) ||
				next < 14*time.Minute || next > 15*time.Minute {
				t.Fatalf("status after rejection: %+v (next attempt in %s)", e, next)
			}
			// setup with the right credentials: retried at once.
			if rc.fixStdin == "RIGHT" {
				rc.fixStdin = x.secret + "\n"
			}
			setup(rc.fixStdin, rc.fixArgs)
			fixBefore := x.fake.TokenRequests()
			fresh := x.getToken()
			if fresh == tok || x.fake.TokenRequests()-fixBefore != 1 {
				t.Fatalf("after setup fixed the profile: same token %v, %d requests", fresh == tok, x.fake.TokenRequests()-fixBefore)
			}
			msg := strings.SplitN(first.stderr, "\n", 2)[0]
			saw := fmt.Sprintf("exit 5 `%s`", strings.TrimPrefix(msg, "lwtoken-helper: error: "))
			if rc.keepsCached {
				saw = fmt.Sprintf("token valid: exit 0 with the cached token (%d/%d gets); expired: %s", savedCached, savedCached, saw)
			}
			tableRow(t, "rejected: "+rc.name, saw,
				fmt.Sprintf("%d for 10 gets after expiry, 0 retries in 2 s (next attempt in %s); 1 after setup fixed it", cost, next.Round(time.Minute)),
				"nothing: status health=rejected; retried at once after setup")
		})
	}
}

// ---- 3. time -------------------------------------------------------------------------

func TestFaultClockJumps(t *testing.T) {
	for _, life := range []time.Duration{24 * time.Hour, time.Hour} {
		t.Run(life.String(), func(t *testing.T) {
			t.Parallel()
			x := newH(t)
			x.fake.SetLifetime(life)
			x.setup()
			x.startFaultDaemon()
			tok := x.getToken()
			e, _ := x.entryStatus(x.profile, defaultScope)
			at := e.NextRenewal.Sub(e.ExpiresAt.Add(-life))
			if at < life*75/100-time.Second || at > life*85/100+time.Second {
				t.Fatalf("renewal planned %s after issue for a %s token", at, life)
			}
			// The machine sleeps past the renewal point: the next request renews at once.
			x.setClock(life * 88 / 100)
			asked := time.Now()
			if got := x.getToken(); got != tok {
				t.Fatal("the still-valid token should be served while renewing")
			}
			lag := waitUntil(t, "the renewal", 5*time.Second, func() bool { return x.fake.Issued() == 2 })
			if lag > time.Second {
				t.Fatalf("renewal started %s after the request", lag)
			}
			var renewed string
			waitUntil(t, "the renewed token", 5*time.Second, func() bool {
				renewed = x.getToken()
				return renewed != tok
			})
			_ = asked
			// The machine sleeps past the expiry: the expired token is never served; the
			// request waits for a new one.
			x.setClock(life*88/100 + life + time.Minute)
			fresh := x.getToken()
			if fresh == renewed || fresh == tok {
				t.Fatal("an expired token was served after the clock jumped past its expiry")
			}
			if n := x.fake.TokenRequests(); n != 3 {
				t.Fatalf("upstream requests = %d, want 3", n)
			}
			tableRow(t, fmt.Sprintf("clock jump (%s tokens): past the renewal point, then past expiry", life),
				"exit 0 each time: the cached token while valid (renewal starts at once), a fresh token after expiry",
				fmt.Sprintf("1 renewal %s after the first request; 1 mint after expiry", lag.Round(10*time.Millisecond)),
				"nothing; no expired token served")
		})
	}
}

func TestFaultMinTTL(t *testing.T) {
	t.Parallel()
	x := newH(t)
	x.fake.SetLifetime(time.Hour)
	x.setup()
	x.startFaultDaemon()
	tok := x.getToken()
	x.setClock(40 * time.Minute) // 20 min left, before the renewal point
	if got := x.getToken(); got != tok {
		t.Fatal("a 20-minute token should be served without --min-ttl")
	}
	fresh := x.getToken("--min-ttl", "30m")
	if fresh == tok || x.fake.TokenRequests() != 2 {
		t.Fatalf("--min-ttl 30m with 20 min left: renewed=%v, %d requests", fresh != tok, x.fake.TokenRequests())
	}
	if e, st := x.entryStatus(x.profile, defaultScope); e.ExpiresAt.Sub(st.Now) < 59*time.Minute {
		t.Fatalf("the renewed token has %s left", e.ExpiresAt.Sub(st.Now))
	}
	before := x.fake.TokenRequests()
	for range 5 {
		checkErr(t, x.helper("get", "--min-ttl", "2h"), 2, "min-ttl 2h0m0s is longer than a fresh token", "lives (1h0m0s)", "hint:")
	}
	checkErr(t, x.helper("get", "--min-ttl", "25h"), 2, "can never be met")
	if d := x.fake.TokenRequests() - before; d != 0 {
		t.Fatalf("impossible --min-ttl cost %d upstream requests", d)
	}
	tableRow(t, "--min-ttl (1 h tokens)",
		"30m with 20 min left: exit 0, a renewed token; 2h: exit 2 `min-ttl 2h0m0s is longer than a fresh token ... lives (1h0m0s)`; 25h: exit 2 `can never be met`",
		"1 for the renewal; 0 for 6 impossible requests",
		"nothing")
}

// ---- 4. restarts and crashes ---------------------------------------------------------

// logHook signals ch when a write of the daemon's log holds substr.
type logHook struct {
	substr string
	ch     chan struct{}
}

func (l logHook) Write(p []byte) (int, error) {
	if strings.Contains(string(p), l.substr) {
		select {
		case l.ch <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func TestFaultKill9DuringKeyringWrite(t *testing.T) {
	t.Parallel()
	x := newH(t)
	x.setup()
	// The daemon logs "token minted" just before it writes the token to the keyring: the
	// test kills it 0-8 ms after that line, i.e. before, during or after the write.
	minted := logHook{"token minted", make(chan struct{}, 1)}
	x.startFaultDaemonTee(minted)
	x.getToken()
	const rounds = 20
	outcomes := map[string]int{}
	for i := 1; i <= rounds; i++ {
		waitUntil(t, "an idle daemon with a valid token", 10*time.Second, func() bool {
			e, st := x.entryStatus(x.profile, defaultScope)
			return e.State == "valid" && e.Health == "ok" && !e.NextRenewal.IsZero() && e.NextRenewal.After(st.Now)
		})
		before, err := x.stored(defaultScope)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		// Past the renewal point of the token in hand: the next get renews it.
		clock := time.Duration(i) * 21 * time.Hour
		x.setClock(clock)
		select {
		case <-minted.ch:
		default:
		}
		done := make(chan result, 1)
		go func() { done <- x.helper("get") }()
		select {
		case <-minted.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: no renewal", i)
		}
		offset := time.Duration(i-1) * 400 * time.Microsecond
		for end := time.Now().Add(offset); time.Now().Before(end); {
		}
		x.kill9()
		<-done
		after, err := x.stored(defaultScope)
		if err != nil {
			t.Fatalf("round %d: after kill -9: %v", i, err)
		}
		switch {
		case after == before:
			outcomes["old token kept"]++
			t.Logf("round %d: killed %s after the mint: the keyring kept the old token", i, offset)
		case after.IssuedAt.Sub(time.Now().Add(clock)).Abs() < time.Minute && x.fake.Valid(after.AccessToken):
			outcomes["new token stored"]++
			t.Logf("round %d: killed %s after the mint: the keyring holds the new token", i, offset)
		default:
			t.Fatalf("round %d: the keyring holds neither the old nor the new token: %+v", i, after)
		}
		x.startFaultDaemonTee(minted)
		if got := x.getToken(); !x.fake.Valid(got) {
			t.Fatalf("round %d: the restarted daemon served an invalid token", i)
		}
	}
	t.Logf("kill -9 outcomes over %d rounds: %v", rounds, outcomes)
	if outcomes["old token kept"] == 0 || outcomes["new token stored"] == 0 {
		t.Logf("note: every kill landed on the same side of the keyring write: %v", outcomes)
	}
	tableRow(t, fmt.Sprintf("kill -9 during renewal and keyring write (%d rounds, 0-8 ms after \"token minted\")", rounds),
		"the next daemon served a valid token every round (the stored one or a fresh one)",
		fmt.Sprintf("%d in all for %d renewals", x.fake.TokenRequests(), rounds),
		fmt.Sprintf("nothing: the keyring item parsed every round (%v)", outcomes))
}

func TestFaultSIGTERMFinishesInFlight(t *testing.T) {
	t.Parallel()
	x := newH(t)
	x.setup()
	x.startDaemon()
	x.fake.SetDelay(2 * time.Second)
	done := make(chan result, 1)
	go func() { done <- x.helper("get") }()
	waitUntil(t, "the request at LINE WORKS", 5*time.Second, func() bool { return x.fake.TokenRequests() == 1 })
	sent := time.Now()
	x.daemon.Process.Signal(syscall.SIGTERM)
	waitUntil(t, "the socket to stop accepting", 5*time.Second, func() bool {
		c, err := net.Dial("unix", x.sock)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	late := x.helper("get") // after SIGTERM: not accepted
	r := <-done
	select {
	case <-x.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not exit after SIGTERM")
	}
	stopped := time.Since(sent)
	x.daemon = nil
	if r.code != 0 || !x.fake.Valid(strings.TrimSpace(r.stdout)) {
		t.Fatalf("in-flight get: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	checkErr(t, late, 3, "cannot reach the daemon")
	if _, err := os.Lstat(x.sock); !os.IsNotExist(err) {
		t.Fatalf("socket left after SIGTERM: %v", err)
	}
	x.fake.SetDelay(0)
	x.startFaultDaemon()
	if got := x.getToken(); got != strings.TrimSpace(r.stdout) || x.fake.TokenRequests() != 1 {
		t.Fatal("the token minted during shutdown was not kept")
	}
	tableRow(t, "SIGTERM while a get waits on a slow (2 s) LINE WORKS",
		"the waiting get: exit 0 with a valid token; a get after the signal: exit 3 `cannot reach the daemon`",
		"1 (the in-flight one); 0 after restart",
		fmt.Sprintf("nothing: daemon exited %s after the signal, socket removed, token kept", stopped.Round(10*time.Millisecond)))
}

func TestFaultRestartReusesStoredToken(t *testing.T) {
	t.Parallel()
	x := newH(t)
	x.setup()
	x.startFaultDaemon()
	tok := x.getToken()
	x.stopDaemon()
	x.startFaultDaemon()
	graceful := x.getToken()
	x.kill9()
	x.startFaultDaemon()
	crashed := x.getToken()
	e, _ := x.entryStatus(x.profile, defaultScope)
	if graceful != tok || crashed != tok || x.fake.TokenRequests() != 1 || e.UpstreamRequests != 0 {
		t.Fatalf("restarts: same token %v/%v, %d upstream requests (this daemon: %d)", graceful == tok, crashed == tok, x.fake.TokenRequests(), e.UpstreamRequests)
	}
	tableRow(t, "restart (SIGTERM) and restart after kill -9 with a valid stored token",
		"exit 0 with the same token", "0 (1 in all, the first mint)", "nothing")
}

// ---- 5. keyring trouble --------------------------------------------------------------
// These change the shared Secret Service: never parallel (parallel tests start only
// after every sequential test of the package has finished).

type keyringFault struct {
	name     string
	down, up func() error
	want     string // in status' keyring field
}

func keyringFaults() []keyringFault {
	return []keyringFault{
		{"locked", keyring.Lock, keyring.Unlock, "keyring locked"},
		{"secret service stopped", keyring.StopSecretService, keyring.StartSecretService, "keyring unavailable"},
	}
}

// breakKeyring runs kf.down and makes sure kf.up runs by the end of the test.
func breakKeyring(t *testing.T, kf keyringFault) (up func()) {
	t.Helper()
	if err := kf.down(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	up = func() {
		once.Do(func() {
			if err := kf.up(); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Cleanup(up)
	return up
}

func TestFaultKeyringAtStart(t *testing.T) {
	for _, kf := range keyringFaults() {
		t.Run(kf.name, func(t *testing.T) {
			x := newH(t)
			x.setup()
			x.startFaultDaemon()
			tok := x.getToken()
			x.stopDaemon()
			up := breakKeyring(t, kf)
			x.startFaultDaemon()
			waitUntil(t, "the keyring error in status", 5*time.Second, func() bool {
				_, st := x.entryStatus(x.profile, defaultScope)
				return strings.Contains(st.Keyring, kf.want)
			})
			r := x.helper("get")
			checkErr(t, r, 1, "cannot read the secrets", kf.want, "hint:")
			_, st := x.statusCLI(x.profile, defaultScope)
			up()
			took := waitUntil(t, "recovery without a restart or a request", 10*time.Second, func() bool {
				e, st := x.entryStatus(x.profile, defaultScope)
				return st.Keyring == "ok" && e.State == "valid"
			})
			if got := x.getToken(); got != tok {
				t.Fatal("after the keyring came back the stored token was not served")
			}
			e, _ := x.entryStatus(x.profile, defaultScope)
			if e.UpstreamRequests != 0 {
				t.Fatalf("%d upstream requests; the stored token was valid", e.UpstreamRequests)
			}
			tableRow(t, "keyring "+kf.name+" when the daemon starts",
				fmt.Sprintf("daemon up, status keyring=%q; get: exit 1 `%s`", st.Keyring, strings.TrimPrefix(strings.SplitN(r.stderr, "\n", 2)[0], "lwtoken-helper: error: ")),
				"0 (the stored token was read once the keyring was back)",
				fmt.Sprintf("nothing: recovered %s after the keyring, no restart, no request", took.Round(10*time.Millisecond)))
		})
	}
}

func TestFaultKeyringAtRenewal(t *testing.T) {
	for _, kf := range keyringFaults() {
		t.Run(kf.name, func(t *testing.T) {
			x := newH(t)
			x.setup()
			x.startFaultDaemon()
			tok := x.getToken()
			// Restarted: this daemon read the token (and the secrets) from the keyring and
			// minted nothing itself.
			x.stopDaemon()
			x.startFaultDaemon()
			if got := x.getToken(); got != tok {
				t.Fatal("restart did not reuse the stored token")
			}
			up := breakKeyring(t, kf)
			x.setClock(21 * time.Hour)
			if got := x.getToken(); got != tok {
				t.Fatal("the cached token was not served")
			}
			var renewed client.TokenStatus
			var st *client.Status
			waitUntil(t, "renewal with the keyring down", 5*time.Second, func() bool {
				renewed, st = x.entryStatus(x.profile, defaultScope)
				return x.fake.Issued() == 2 && renewed.Health == "ok" && strings.Contains(st.Keyring, kf.want)
			})
			served := 0
			for range 20 {
				got := x.getToken()
				if got == tok {
					t.Fatal("the old token was served after the renewal")
				}
				served++
			}
			fresh := x.getToken()
			up()
			took := waitUntil(t, "the keyring write after recovery", 10*time.Second, func() bool {
				_, st := x.entryStatus(x.profile, defaultScope)
				return st.Keyring == "ok"
			})
			s, err := x.stored(defaultScope)
			if err != nil || s.AccessToken != fresh {
				t.Fatalf("the token renewed while the keyring was down was not stored once it came back: %v", err)
			}
			x.stopDaemon()
			x.startFaultDaemon()
			if got := x.getToken(); got != fresh || x.fake.TokenRequests() != 2 {
				t.Fatalf("restart after recovery: same token %v, %d upstream", got == fresh, x.fake.TokenRequests())
			}
			tableRow(t, "keyring "+kf.name+" when the daemon renews",
				fmt.Sprintf("exit 0: the renewed token, held in memory (%d/%d gets); status keyring=%q", served, served, st.Keyring),
				"1 (the renewal, with the secrets held in memory); 0 after a restart",
				fmt.Sprintf("nothing: the token was written %s after the keyring came back, no restart", took.Round(10*time.Millisecond)))
		})
	}
}

// ---- 7. config changes ---------------------------------------------------------------

func TestFaultConfigReload(t *testing.T) {
	t.Parallel()
	x := newH(t)
	x.setup()
	a, b, c := x.profile, x.profile+"-b", x.profile+"-c"
	setupOther := func(name, scope string) {
		t.Helper()
		r := x.runCmd(bin.daemon, x.secret+"\n", "setup", "--profile", name, "--client-id", x.clientID,
			"--service-account", "bot.serviceaccount@example.com", "--scope", scope, "--private-key-file", x.keyFile, "--auth-url", x.fake.AuthURL)
		if r.code != 0 {
			t.Fatalf("setup %s: %d %s", name, r.code, r.stderr)
		}
	}
	setupOther(b, "bot")
	x.startFaultDaemon()
	ta := x.getToken("--profile", a)
	tb := x.getToken("--profile", b)
	hup := func(what string) {
		t.Helper()
		n := strings.Count(x.log(), what)
		x.daemon.Process.Signal(syscall.SIGHUP)
		waitUntil(t, what, 5*time.Second, func() bool { return strings.Count(x.log(), what) > n })
	}
	edit := func(f func(*config.Config)) {
		t.Helper()
		cfg, err := config.Load(x.config)
		if err != nil {
			t.Fatal(err)
		}
		f(cfg)
		if err := config.Save(x.config, cfg); err != nil {
			t.Fatal(err)
		}
	}
	// 1. Edit by hand: b gets another scope set; a is untouched. SIGHUP.
	edit(func(c *config.Config) { c.Profiles[b].Scopes = []string{"bot", "directory.read"} })
	hup("config reloaded")
	if got := x.getToken("--profile", a); got != ta {
		t.Fatal("SIGHUP dropped the token of an unchanged profile")
	}
	if got := x.getToken("--profile", b, "--scope", "directory.read"); got == tb {
		t.Fatal("the changed profile's new scope was not applied")
	}
	// 2. setup adds a profile: the daemon reloads, no restart.
	setupOther(c, "user.read")
	x.getToken("--profile", c)
	// 3. setup again for a, same settings (a secret rotation): its token stays.
	r := x.runCmd(bin.daemon, x.secret+"\n", "setup", "--profile", a)
	if r.code != 0 || !strings.Contains(r.stdout, "reloaded") {
		t.Fatalf("setup again: %d %s", r.code, r.stderr)
	}
	if got := x.getToken("--profile", a); got != ta {
		t.Fatal("re-running setup dropped the token of an unchanged profile")
	}
	// 4. A broken file: SIGHUP keeps the previous config.
	good, _ := os.ReadFile(x.config)
	os.WriteFile(x.config, []byte("[profiles.x\n"), 0o600)
	hup("reload failed")
	if got := x.getToken("--profile", a); got != ta {
		t.Fatal("a broken config dropped a token")
	}
	os.WriteFile(x.config, good, 0o600)
	// 5. b removed by hand: not configured any more; a still served.
	edit(func(c *config.Config) { delete(c.Profiles, b) })
	hup("config reloaded")
	checkErr(t, x.helper("get", "--profile", b), 4, "is not configured")
	if got := x.getToken("--profile", a); got != ta {
		t.Fatal("removing another profile dropped a token")
	}
	if n := x.fake.TokenRequests(); n != 4 {
		t.Fatalf("upstream requests = %d, want 4 (a, b, b's new scope set, c)", n)
	}
	tableRow(t, "config edited + SIGHUP, setup re-run, broken config, profile removed",
		"exit 0 throughout for unchanged profiles (same token); the changed profile's new scopes at once; removed profile: exit 4",
		"1 per changed or added profile (4 in all), 0 for unchanged ones",
		"nothing: no restart, unchanged profiles kept their tokens, a broken file kept the previous config")
}
