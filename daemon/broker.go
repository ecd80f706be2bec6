package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// Timing policy. One place owns renewal and retries (see hashicorp/vault's lifetime watcher).
const (
	// minServeTTL: a token is handed out only with at least this much life left.
	minServeTTL = 10 * time.Second
	// MaxTokenLifetime is the longest a LINE WORKS access token lives (the 24 h app setting);
	// a --min-ttl at or above it can never be met.
	MaxTokenLifetime   = 24 * time.Hour
	renewMin, renewMax = 0.75, 0.85 // renew at this fraction of the lifetime, jittered
	backoffBase        = time.Second
	backoffCap         = 5 * time.Minute
	rejectedRetry      = 15 * time.Minute // slow schedule after a non-retryable answer
	maxRetryAfter      = time.Hour
	// maxSleep caps every timer so that wall-clock time lost to a suspended machine is
	// noticed within minutes even with no request (monotonic timers stop during suspend).
	maxSleep      = 5 * time.Minute
	fetchTimeout  = 30 * time.Second
	keyringWindow = 10 * time.Second
	// keyringProbeCap caps the interval between checks of a keyring that failed.
	keyringProbeCap = time.Minute
)

// entry is the cache of one (profile, scope set).
type entry struct {
	profile string
	scopes  []string
	scope   string // canonical

	mu          sync.Mutex
	tok         *cachedToken
	loaded      bool // the keyring copy was looked at
	call        *flight
	failures    int
	lastErr     *Error
	nextAttempt time.Time
	renewAt     time.Time
	timer       *time.Timer
	timerAt     time.Time
	upstream    int64
	closed      bool

	// saveMu orders keyring writes of this entry; saved is the token last written or read
	// there, unsaved a newer one whose write failed (retried by probeKeyring).
	saveMu  sync.Mutex
	saved   *cachedToken
	unsaved *cachedToken
}

type flight struct {
	done chan struct{}
	tok  *cachedToken
	err  *Error
}

// cachedToken is what the daemon keeps and persists: no refresh token (a service account
// mints a fresh token with a new assertion), so one fewer secret is stored.
type cachedToken struct {
	Access    secret.Value
	TokenType string
	Scope     string
	IssuedAt  time.Time
	Expiry    time.Time
	ClientID  string
	AuthURL   string
	seq       uint64 // order of minting in this process (0: read from the keyring); not stored
}

type storedToken struct {
	V           int       `json:"v"`
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	Scope       string    `json:"scope"`
	IssuedAt    time.Time `json:"issued_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	ClientID    string    `json:"client_id"`
	AuthURL     string    `json:"auth_url"`
}

func (t *cachedToken) marshal() []byte {
	b, _ := json.Marshal(storedToken{V: 1, AccessToken: t.Access.Reveal(), TokenType: t.TokenType, Scope: t.Scope,
		IssuedAt: t.IssuedAt.UTC(), ExpiresAt: t.Expiry.UTC(), ClientID: t.ClientID, AuthURL: t.AuthURL})
	return b
}

// parseStoredToken decodes a keyring copy; anything malformed or inconsistent is an error
// (the caller then mints a new token and overwrites it).
func parseStoredToken(b []byte) (*cachedToken, error) {
	var s storedToken
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("stored token: %w", err)
	}
	if s.V != 1 || s.AccessToken == "" || s.ExpiresAt.IsZero() || !s.ExpiresAt.After(s.IssuedAt) {
		return nil, errors.New("stored token: incomplete or inconsistent")
	}
	return &cachedToken{Access: secret.New(s.AccessToken), TokenType: s.TokenType, Scope: s.Scope,
		IssuedAt: s.IssuedAt, Expiry: s.ExpiresAt, ClientID: s.ClientID, AuthURL: s.AuthURL}, nil
}

// credsCache is the last credentials read from the keyring for a profile, so that a
// locked or vanished keyring does not stop renewals.
type credsCache struct {
	creds lwauth.Credentials
}

// broker owns the token cache: single flight per entry, renewal, backoff, persistence.
type broker struct {
	d *Daemon

	mu      sync.Mutex
	entries map[string]*entry
	creds   map[string]*credsCache
	minted  atomic.Uint64 // numbers minted tokens (cachedToken.seq)
}

func entryKey(profile, scope string) string { return profile + "\x00" + scope }

// get returns a token for profile and scopes with at least minTTL of life left.
func (b *broker) get(ctx context.Context, profile string, p *config.Profile, scopes []string, minTTL time.Duration) (*cachedToken, *Error) {
	e := b.entry(profile, scopes)
	need := max(minTTL, minServeTTL)
	for attempt := 0; ; attempt++ {
		e.mu.Lock()
		now := b.d.now()
		backingOff := e.lastErr != nil && now.Before(e.nextAttempt)
		if t := e.tok; t != nil && t.Expiry.Sub(now) > need {
			if !now.Before(e.renewAt) && !backingOff {
				b.startLocked(e, true) // late (the machine slept): renew now, serve this one meanwhile
			}
			e.mu.Unlock()
			return t, nil
		}
		// A fresh token lives no longer than the one held: asking LINE WORKS again for
		// every such request would mint in a loop. Re-ask at most every rejectedRetry, in
		// case the app's token lifetime setting changed.
		if t := e.tok; t != nil && minTTL > 0 && attempt == 0 {
			if life := t.Expiry.Sub(t.IssuedAt); life <= need && now.Sub(t.IssuedAt) < rejectedRetry {
				e.mu.Unlock()
				return nil, minTTLTooLong(profile, minTTL, life)
			}
		}
		if e.call == nil {
			if backingOff && attempt == 0 {
				err := *e.lastErr
				err.Msg += fmt.Sprintf(" (next attempt in %s)", e.nextAttempt.Sub(now).Round(time.Second))
				e.mu.Unlock()
				return nil, &err
			}
			b.startLocked(e, e.tok != nil)
		}
		c := e.call
		e.mu.Unlock()

		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, &Error{Code: wire.CodeUnavailable, Msg: "gave up waiting for line works: " + ctx.Err().Error(), Err: ctx.Err(),
				Hint: "try again; `lwtoken-helper status` shows the daemon's state"}
		}
		if c.err != nil {
			return nil, c.err
		}
		if c.tok == nil { // a keyring look-up found nothing usable: the next pass mints
			continue
		}
		if left := c.tok.Expiry.Sub(b.d.now()); left <= need {
			if attempt > 0 || c.tok.Expiry.Sub(c.tok.IssuedAt) <= need {
				return nil, minTTLTooLong(profile, minTTL, c.tok.Expiry.Sub(c.tok.IssuedAt))
			}
			// A stored token came back from the keyring with too little life: the next
			// pass mints a fresh one.
		}
	}
}

func minTTLTooLong(profile string, minTTL, life time.Duration) *Error {
	return &Error{Code: wire.CodeBadRequest,
		Msg:  fmt.Sprintf("min-ttl %s is longer than a fresh token of profile %q lives (%s)", minTTL, profile, life.Round(time.Second)),
		Hint: "ask for a shorter --min-ttl, or set the app's token lifetime to 24 hours in the developer console"}
}

// entry returns the cache entry for (profile, scopes), creating it.
func (b *broker) entry(profile string, scopes []string) *entry {
	scope := lwauth.CanonicalScope(scopes)
	k := entryKey(profile, scope)
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[k]
	if e == nil {
		e = &entry{profile: profile, scopes: lwauth.ParseScopes(scope), scope: scope}
		b.entries[k] = e
	}
	return e
}

// startLocked starts a fetch for e unless one runs. renew forces a new token even if the
// keyring holds one. e.mu must be held.
func (b *broker) startLocked(e *entry, renew bool) {
	if e.call != nil || e.closed {
		return
	}
	c := &flight{done: make(chan struct{})}
	e.call = c
	loadFirst := !e.loaded && !renew
	go func() {
		tok, err := b.fetch(e, loadFirst)
		b.finish(e, c, tok, err)
	}()
}

// startLoadLocked starts a flight that only reads the keyring copy of e's token (nil if
// one already runs or the copy was looked at). Its flight ends with neither token nor error
// when there is no usable copy. e.mu must be held.
func (b *broker) startLoadLocked(e *entry) *flight {
	if e.call != nil || e.loaded || e.closed {
		return nil
	}
	c := &flight{done: make(chan struct{})}
	e.call = c
	go func() {
		var t *cachedToken
		if p := b.d.profile(e.profile); p != nil {
			t = b.loadStored(e, p)
			if t != nil {
				// Hold the secrets in memory too, so that a keyring locked at renewal
				// time does not stop the renewal of this stored token.
				ctx, cancel := context.WithTimeout(context.Background(), keyringWindow)
				b.credentials(ctx, e.profile)
				cancel()
			}
		}
		if t == nil || !t.Expiry.After(b.d.now()) {
			e.mu.Lock()
			e.call = nil
			e.mu.Unlock()
			close(c.done)
			return
		}
		b.finish(e, c, t, nil)
	}()
	return c
}

// fetch gets a token: from the keyring copy when loadFirst and it is still good, else from
// LINE WORKS. It runs detached from any client's context: a client that hangs up does not
// cancel the request others wait on.
func (b *broker) fetch(e *entry, loadFirst bool) (*cachedToken, *Error) {
	p := b.d.profile(e.profile)
	if p == nil {
		return nil, &Error{Code: wire.CodeNotConfigured, Msg: fmt.Sprintf("profile %q is no longer configured", e.profile), Hint: "run `lwtoken-helperd setup`"}
	}
	if loadFirst {
		if t := b.loadStored(e, p); t != nil && t.Expiry.Sub(b.d.now()) > minServeTTL {
			return t, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.d.opts.UpstreamTimeout)
	defer cancel()
	creds, err := b.credentials(ctx, e.profile)
	if err != nil {
		return nil, classify(e.profile, err)
	}
	cl := &lwauth.Client{AuthURL: p.AuthURLOrDefault(), HTTPClient: b.d.httpClient, Now: b.d.now}
	e.mu.Lock()
	e.upstream++
	e.mu.Unlock()
	b.d.upstream.Add(1)
	lt, err := cl.Token(ctx, creds, e.scopes)
	if err != nil {
		return nil, classify(e.profile, err)
	}
	t := &cachedToken{Access: lt.AccessToken, TokenType: lt.TokenType, Scope: lwauth.CanonicalScope(lt.Scope),
		IssuedAt: lt.IssuedAt, Expiry: lt.Expiry, ClientID: p.ClientID, AuthURL: p.AuthURLOrDefault(), seq: b.minted.Add(1)}
	if t.Scope == "" {
		t.Scope = e.scope
	}
	b.d.log.Info("token minted", "profile", e.profile, "scope", e.scope, "fingerprint", t.Access.Fingerprint(),
		"expires", t.Expiry.Format(time.RFC3339), "lifetime", lt.ExpiresIn.String())
	b.persist(e, t)
	return t, nil
}

// loadStored reads the keyring copy of e's token. Any problem is logged and yields nil.
// Only an answer of the keyring (a value or "not found") marks the copy as looked at: after
// a locked or absent keyring the next fetch looks again.
func (b *broker) loadStored(e *entry, p *config.Profile) *cachedToken {
	ctx, cancel := context.WithTimeout(context.Background(), keyringWindow)
	defer cancel()
	raw, err := b.d.store.Get(ctx, keystore.TokenKey(e.profile, e.scope))
	if err != nil {
		if !errors.Is(err, keystore.ErrNotFound) {
			b.d.keyringStatus(err)
			b.d.log.Warn("cannot read the stored token", "profile", e.profile, "scope", e.scope, "err", err)
			return nil
		}
		e.mu.Lock()
		e.loaded = true
		e.mu.Unlock()
		return nil
	}
	e.mu.Lock()
	e.loaded = true
	e.mu.Unlock()
	b.d.keyringStatus(nil)
	t, err := parseStoredToken(raw)
	if err != nil {
		b.d.log.Warn("ignoring the stored token", "profile", e.profile, "scope", e.scope, "err", err)
		return nil
	}
	if t.ClientID != p.ClientID || t.AuthURL != p.AuthURLOrDefault() {
		b.d.log.Info("ignoring a stored token of other credentials", "profile", e.profile)
		return nil
	}
	b.d.log.Info("token loaded from keyring", "profile", e.profile, "scope", e.scope, "fingerprint", t.Access.Fingerprint(),
		"expires", t.Expiry.Format(time.RFC3339))
	e.mu.Lock()
	if e.saved == nil {
		e.saved = t
	}
	e.mu.Unlock()
	return t
}

// persist writes the token to the keyring as one item (one Set: a reader, or a daemon
// restarted after kill -9, sees the old token or the new one, never a mix). A token minted
// before the one already stored is not written (the order is the minting order, not the
// wall clock, which may be stepped back). When the write fails, the token is kept as
// e.unsaved and written again once the keyring answers (probeKeyring). It reports whether
// the keyring holds t or a newer token.
func (b *broker) persist(e *entry, t *cachedToken) bool {
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	e.mu.Lock()
	if s := e.saved; s != nil && t.seq <= s.seq {
		if e.unsaved == t {
			e.unsaved = nil
		}
		e.mu.Unlock()
		return true
	}
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), keyringWindow)
	defer cancel()
	err := b.d.store.Set(ctx, keystore.TokenKey(e.profile, e.scope), t.marshal())
	e.mu.Lock()
	if err != nil {
		if e.unsaved == nil || e.unsaved.seq <= t.seq {
			e.unsaved = t
		}
	} else {
		e.saved = t
		if e.unsaved != nil && e.unsaved.seq <= t.seq {
			e.unsaved = nil
		}
	}
	e.mu.Unlock()
	if err != nil {
		b.d.log.Warn("cannot store the token in the keyring; keeping it in memory", "profile", e.profile, "err", err)
		b.d.keyringStatus(err)
		return false
	}
	b.d.keyringStatus(nil)
	return true
}

// probeKeyring runs (from Daemon.keyringStatus's timer) after a keyring call failed, if
// something waits on the keyring: a token whose write failed, a stored token that could
// not be read, an entry that failed for want of the secrets. (With nothing waiting it does
// not touch the keyring, which on a desktop may answer with an unlock prompt; the next
// keyring call updates the status.) If the keyring answers again it writes those tokens,
// looks again for the stored ones and retries those entries at once; a failure re-arms
// the probe.
func (b *broker) probeKeyring() {
	b.mu.Lock()
	es := make([]*entry, 0, len(b.entries))
	for _, e := range b.entries {
		es = append(es, e)
	}
	b.mu.Unlock()
	waiting := false
	for _, e := range es {
		e.mu.Lock()
		waiting = waiting || !e.closed && (e.unsaved != nil || (e.lastErr != nil && e.lastErr.Code == wire.CodeKeyring) || (e.tok == nil && !e.loaded))
		e.mu.Unlock()
	}
	if !waiting {
		return
	}
	name := "default"
	if names := b.d.config().Names(); len(names) > 0 {
		name = names[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), keyringWindow)
	_, err := b.d.store.Get(ctx, keystore.ClientSecretKey(name))
	cancel()
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		b.d.log.Debug("keyring still unavailable", "err", err)
		b.d.keyringStatus(err)
		return
	}
	b.d.keyringStatus(nil)
	for _, e := range es {
		e.mu.Lock()
		t := e.unsaved
		if e.closed {
			t = nil
		}
		e.mu.Unlock()
		if t != nil {
			if !b.persist(e, t) {
				return // persist re-armed the probe
			}
			b.d.log.Info("token stored in the keyring after it came back", "profile", e.profile, "scope", e.scope,
				"fingerprint", t.Access.Fingerprint())
		}
	}
	for _, e := range es {
		e.mu.Lock()
		switch {
		case e.closed || e.call != nil:
		case e.lastErr != nil && e.lastErr.Code == wire.CodeKeyring:
			e.nextAttempt = time.Time{}
			b.startLocked(e, e.tok != nil)
		case e.tok == nil && !e.loaded && e.lastErr == nil:
			b.startLoadLocked(e)
		}
		e.mu.Unlock()
	}
	b.d.log.Info("keyring available again")
}

// credentials reads the profile's secrets from the keyring, falling back to the last good
// copy in memory when the keyring is locked or gone.
func (b *broker) credentials(ctx context.Context, profile string) (lwauth.Credentials, error) {
	cr, err := b.readCredentials(ctx, profile)
	if err == nil {
		b.d.keyringStatus(nil)
		b.mu.Lock()
		b.creds[profile] = &credsCache{creds: cr}
		b.mu.Unlock()
		return cr, nil
	}
	if !errors.Is(err, keystore.ErrNotFound) {
		b.d.keyringStatus(err)
		b.mu.Lock()
		c := b.creds[profile]
		b.mu.Unlock()
		if c != nil {
			b.d.log.Warn("keyring unavailable; using the credentials held in memory", "profile", profile, "err", err)
			return c.creds, nil
		}
	}
	return lwauth.Credentials{}, err
}

func (b *broker) readCredentials(ctx context.Context, profile string) (lwauth.Credentials, error) {
	p := b.d.profile(profile)
	if p == nil {
		return lwauth.Credentials{}, fmt.Errorf("profile %q: %w", profile, keystore.ErrNotFound)
	}
	keyPEM, err := b.d.store.Get(ctx, keystore.PrivateKeyKey(profile))
	if err != nil {
		return lwauth.Credentials{}, err
	}
	cs, err := b.d.store.Get(ctx, keystore.ClientSecretKey(profile))
	if err != nil {
		return lwauth.Credentials{}, err
	}
	key, err := lwauth.ParsePrivateKey(keyPEM)
	if err != nil {
		return lwauth.Credentials{}, &Error{Code: wire.CodeNotConfigured, Msg: fmt.Sprintf("the private key stored for profile %q is unusable: %v", profile, err), Err: err,
			Hint: fmt.Sprintf("store it again with `lwtoken-helperd setup --profile %s --private-key-file FILE`", profile)}
	}
	return lwauth.Credentials{ClientID: p.ClientID, ServiceAccount: p.ServiceAccount, ClientSecret: secret.FromBytes(cs), PrivateKey: key}, nil
}

// finish records a fetch's outcome and schedules what comes next.
func (b *broker) finish(e *entry, c *flight, tok *cachedToken, err *Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := b.d.now()
	if err == nil {
		e.loaded = true
		e.tok = tok
		e.failures = 0
		e.lastErr = nil
		e.nextAttempt = time.Time{}
		life := tok.Expiry.Sub(tok.IssuedAt)
		frac := renewMin + (renewMax-renewMin)*b.d.rand()
		e.renewAt = tok.IssuedAt.Add(time.Duration(float64(life) * frac))
		b.scheduleLocked(e, e.renewAt)
	} else {
		e.failures++
		e.lastErr = err
		var delay time.Duration
		if err.Code == wire.CodeRejected || err.Code == wire.CodeNotConfigured || err.Code == wire.CodeBadRequest {
			delay = rejectedRetry
		} else {
			delay = backoffDelay(b.d.opts.BackoffBase, b.d.opts.BackoffCap, e.failures, b.d.rand())
			if ra := lwauth.RetryAfterOf(err); ra > delay {
				delay = min(ra, maxRetryAfter)
			}
		}
		e.nextAttempt = now.Add(delay)
		b.d.log.Warn("token request failed", "profile", e.profile, "scope", e.scope, "code", err.Code,
			"failures", e.failures, "next_attempt", e.nextAttempt.Format(time.RFC3339), "err", err.Msg)
		b.scheduleLocked(e, e.nextAttempt)
	}
	c.tok, c.err = tok, err
	e.call = nil
	close(c.done)
}

// backoffDelay is capped exponential backoff with jitter: between half and all of
// min(base*2^(n-1), cap), for n >= 1 failures and r in [0,1).
func backoffDelay(base, cap time.Duration, failures int, r float64) time.Duration {
	d := float64(base) * math.Pow(2, float64(min(max(failures, 1), 30)-1))
	d = min(d, float64(cap))
	return time.Duration(d * (0.5 + 0.5*r))
}

// scheduleLocked arms e's timer for wall-clock time at; every sleep is capped at maxSleep
// and re-checked against the wall clock when it fires.
func (b *broker) scheduleLocked(e *entry, at time.Time) {
	if e.closed {
		return
	}
	e.timerAt = at
	d := min(max(at.Sub(b.d.now()), 0), maxSleep)
	if e.timer == nil {
		e.timer = time.AfterFunc(d, func() { b.tick(e) })
		return
	}
	e.timer.Reset(d)
}

// tick runs when e's timer fires: renew or retry if due, else sleep again.
func (b *broker) tick(e *entry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.call != nil {
		return
	}
	now := b.d.now()
	if now.Before(e.timerAt) {
		b.scheduleLocked(e, e.timerAt)
		return
	}
	if e.tok == nil && e.lastErr == nil {
		return
	}
	// With no token yet (the keyring could not be read, or minting failed), look at the
	// keyring copy first if it was never read.
	b.startLocked(e, e.tok != nil)
}

// drop forgets entries whose profile changed or vanished (keep reports which stay).
func (b *broker) drop(keep func(profile string) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, e := range b.entries {
		e.mu.Lock()
		if !keep(e.profile) {
			e.closed = true
			if e.timer != nil {
				e.timer.Stop()
			}
			delete(b.entries, k)
			delete(b.creds, e.profile)
		} else if e.lastErr != nil {
			// New credentials or config may fix it: retry on the next request.
			e.nextAttempt = time.Time{}
		}
		e.mu.Unlock()
	}
	for p := range b.creds {
		if !keep(p) {
			delete(b.creds, p)
		}
	}
}

// close stops every timer.
func (b *broker) close() {
	b.drop(func(string) bool { return false })
}

// status reports every entry, sorted by profile then scope.
func (b *broker) status() []wire.EntryStatus {
	b.mu.Lock()
	es := make([]*entry, 0, len(b.entries))
	for _, e := range b.entries {
		es = append(es, e)
	}
	b.mu.Unlock()
	now := b.d.now()
	out := make([]wire.EntryStatus, 0, len(es))
	for _, e := range es {
		e.mu.Lock()
		s := wire.EntryStatus{Profile: e.profile, Scope: e.scope, UpstreamRequests: e.upstream,
			ConsecutiveFailures: e.failures, State: "missing", Health: "ok"}
		if e.tok != nil {
			exp := e.tok.Expiry
			s.State = "expired"
			if exp.After(now) {
				s.State = "valid"
			}
			s.ExpiresAt = &exp
			s.TTLSeconds = max(int64(exp.Sub(now)/time.Second), 0)
			s.Fingerprint = e.tok.Access.Fingerprint()
			if !e.renewAt.IsZero() {
				r := e.renewAt
				s.NextRenewal = &r
			}
		}
		if e.lastErr != nil {
			s.Health = "retrying"
			if e.lastErr.Code == wire.CodeRejected {
				s.Health = "rejected"
			}
			s.LastError = e.lastErr.Msg
			s.LastErrorCode = e.lastErr.Code
			na := e.nextAttempt
			s.NextAttempt = &na
		}
		if e.call != nil {
			s.Health = "renewing"
		}
		e.mu.Unlock()
		out = append(out, s)
	}
	sortEntries(out)
	return out
}

func sortEntries(es []wire.EntryStatus) {
	slices.SortFunc(es, func(a, b wire.EntryStatus) int {
		return cmp.Or(strings.Compare(a.Profile, b.Profile), strings.Compare(a.Scope, b.Scope))
	})
}
