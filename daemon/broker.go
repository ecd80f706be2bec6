package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
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
	lastErr     *replyError
	nextAttempt time.Time
	renewAt     time.Time
	timer       *time.Timer
	timerAt     time.Time
	upstream    int64
	closed      bool
	refetch     bool // the secrets changed while a fetch was in flight: fetch again after it

	// saveMu orders keyring writes of this entry; saved is the token last written or read
	// there, unsaved a newer one whose write failed (retried by probeKeyring).
	saveMu  sync.Mutex
	saved   *cachedToken
	unsaved *cachedToken
}

type flight struct {
	done chan struct{}
	tok  *cachedToken
	err  *replyError
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

// broker owns the token cache: single flight per entry, renewal, backoff, persistence
// (timing.go holds the timing, persist.go the persistence, credentials.go the secrets).
type broker struct {
	d *Daemon

	mu      sync.Mutex
	entries map[string]*entry
	creds   map[string]*credsCache
	minted  atomic.Uint64 // numbers minted tokens (cachedToken.seq)
}

func entryKey(profile, scope string) string { return profile + "\x00" + scope }

// get returns a token for profile and scopes with at least minTTL of life left.
func (b *broker) get(ctx context.Context, profile string, p *config.Profile, scopes []string, minTTL time.Duration) (*cachedToken, *replyError) {
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
			return nil, &replyError{Code: wire.CodeUnavailable, Msg: "gave up waiting for line works: " + ctx.Err().Error(), Err: ctx.Err(),
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

func minTTLTooLong(profile string, minTTL, life time.Duration) *replyError {
	return &replyError{Code: wire.CodeBadRequest,
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
func (b *broker) fetch(e *entry, loadFirst bool) (*cachedToken, *replyError) {
	p := b.d.profile(e.profile)
	if p == nil {
		return nil, &replyError{Code: wire.CodeNotConfigured, Msg: fmt.Sprintf("profile %q is no longer configured", e.profile), Hint: "run `lwtoken-helperd setup`"}
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
		return nil, b.d.classify(e.profile, err)
	}
	cl := &lwauth.Client{AuthURL: p.AuthURLOrDefault(), HTTPClient: b.d.httpClient, Now: b.d.now}
	e.mu.Lock()
	e.upstream++
	e.mu.Unlock()
	sent := b.d.now()
	lt, err := cl.Token(ctx, creds, e.scopes)
	if agedInFlight(err, sent, b.d.now()) {
		b.d.log.Info("the clock moved past the assertion's life while the token request was out: signing a fresh one",
			"profile", e.profile, "scope", e.scope)
		e.mu.Lock()
		e.upstream++
		e.mu.Unlock()
		lt, err = cl.Token(ctx, creds, e.scopes)
	}
	if err != nil {
		return nil, b.d.classify(e.profile, err)
	}
	if lt.ExpiresIn < minTokenLifetime {
		b.d.log.Warn("token minted with a lifetime too short to serve: dropped", "profile", e.profile, "scope", e.scope,
			"fingerprint", lt.AccessToken.Fingerprint(), "lifetime", lt.ExpiresIn.String())
		return nil, unusableGrant(nil, fmt.Sprintf("line works granted a token that lives only %s; at least %s is needed to serve and renew it",
			lt.ExpiresIn, minTokenLifetime))
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

// finish records a fetch's outcome and schedules what comes next.
func (b *broker) finish(e *entry, c *flight, tok *cachedToken, err *replyError) {
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
		if err.Code == wire.CodeRejected || err.Code == wire.CodeNotConfigured || err.Code == wire.CodeBadRequest || errors.Is(err, errUnusableGrant) {
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
	if e.refetch {
		e.refetch = false
		b.startLocked(e, e.tok != nil)
	}
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
			ConsecutiveFailures: e.failures, State: wire.StateMissing, Health: wire.HealthOK}
		if e.tok != nil {
			exp := e.tok.Expiry
			s.State = wire.StateExpired
			if exp.After(now) {
				s.State = wire.StateValid
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
			s.Health = wire.HealthRetrying
			if e.lastErr.Code == wire.CodeRejected {
				s.Health = wire.HealthRejected
			}
			s.LastError = e.lastErr.Msg
			s.LastErrorCode = e.lastErr.Code
			na := e.nextAttempt
			s.NextAttempt = &na
		}
		if e.call != nil {
			s.Health = wire.HealthRenewing
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
