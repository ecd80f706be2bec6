package daemon

import (
	"math"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
)

// This file holds the token cache's timing: when a token is renewed, how failures back off,
// and the timers that wake an entry. broker.finish applies the policy after each fetch.

// Timing policy. One place owns renewal and retries (see hashicorp/vault's lifetime watcher).
const (
	// minServeTTL: a token is handed out only with at least this much life left.
	minServeTTL = 10 * time.Second
	// maxTokenLifetime is the longest a LINE WORKS access token lives (the 24 h app setting);
	// a --min-ttl at or above it can never be met.
	maxTokenLifetime   = lwauth.MaxLifetime
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

// minTokenLifetime is the floor under the renewal interval: a token granted for less is an
// error shown in status, neither served nor renewed, and LINE WORKS is asked again on the
// slow schedule (rejectedRetry). expires_in: 1 made the daemon mint about once a second with
// no client asking. So a token is never renewed on schedule sooner than
// renewMin*minTokenLifetime (3m45s) after it was issued.
const minTokenLifetime = 5 * time.Minute

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
