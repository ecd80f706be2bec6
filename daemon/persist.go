package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// This file holds the token cache's persistence: the stored form of a token, reading it
// back at start, writing each new one, and retrying writes once a failing cache answers.

// storedToken is the form of a cachedToken in the token cache (JSON, one item per entry).
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
	// The same checks as for the token endpoint's answer (lwauth): a copy someone edited in
	// the keyring is never served.
	if !wire.ValidAccessToken(s.AccessToken) || (s.TokenType != "" && !strings.EqualFold(s.TokenType, "bearer")) {
		return nil, errors.New("stored token: not a valid bearer token")
	}
	if s.ExpiresAt.Sub(s.IssuedAt) > maxTokenLifetime {
		return nil, fmt.Errorf("stored token: lives longer than %s", maxTokenLifetime)
	}
	return &cachedToken{Access: secret.New(s.AccessToken), TokenType: s.TokenType, Scope: s.Scope,
		IssuedAt: s.IssuedAt, Expiry: s.ExpiresAt, ClientID: s.ClientID, AuthURL: s.AuthURL}, nil
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
	if revoked, why := b.d.revokedStored(e.profile, t.IssuedAt); revoked {
		b.d.log.Warn("ignoring a stored token", "reason", why, "profile", e.profile, "scope", e.scope, "fingerprint", t.Access.Fingerprint())
		ctx, cancel := context.WithTimeout(context.Background(), keyringWindow)
		deleteIfSame(ctx, b.d.store.TokenCache, keystore.TokenKey(e.profile, e.scope), t)
		cancel()
		return nil
	}
	for _, s := range lwauth.ParseScopes(t.Scope) {
		if !slices.Contains(e.scopes, s) {
			b.d.log.Warn("ignoring a stored token wider than its entry", "profile", e.profile, "scope", e.scope)
			return nil
		}
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
	if errors.Is(err, keystore.ErrTooLarge) {
		// Permanent: this token will never fit this keyring, so it is neither kept for a
		// retry nor a reason to probe the keyring (which answers fine). It is served from
		// memory; the problem shows in status until a token of the entry fits.
		b.d.log.Warn("the token is too large for this keyring: kept in memory only", "profile", e.profile, "scope", e.scope,
			"fingerprint", t.Access.Fingerprint(), "err", err)
		b.d.setStoreProblem(e.profile, e.scope, err)
		return false
	}
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
	b.d.setStoreProblem(e.profile, e.scope, nil)
	return true
}

// setStoreProblem records (err != nil) or clears a permanent failure to store the token of
// (profile, scope): status shows the last one recorded while any remains.
func (d *Daemon) setStoreProblem(profile, scope string, err error) {
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	k := profile + "\x00" + scope
	if err == nil {
		delete(d.storeProblems, k)
		return
	}
	if d.storeProblems == nil {
		d.storeProblems = map[string]string{}
	}
	d.storeProblems[k] = fmt.Sprintf("cannot store the token of profile %q scope %q (kept in memory): %v", profile, scope, err)
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
	_, err := b.d.secrets.Get(ctx, keystore.ClientSecretKey(name))
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
