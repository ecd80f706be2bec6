package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// TestStoredTokenIsValidatedOnLoad: a keyring copy someone edited (a token that would
// inject a header line or a terminal escape, a wider scope, a lifetime beyond 24 h, a
// foreign token type) is ignored by the next daemon, never served: it mints a new token
// (issue 12, item 4, the stored side).
func TestStoredTokenIsValidatedOnLoad(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	key := keystore.TokenKey("default", "bot user.read")
	for _, c := range []struct {
		name string
		edit func(*storedToken)
	}{
		{"CR LF", func(s *storedToken) { s.AccessToken += "\r\nX-Injected: 1" }},
		{"ESC", func(s *storedToken) { s.AccessToken = "\x1b]0;pwned\x07" + s.AccessToken }},
		{"space", func(s *storedToken) { s.AccessToken += " x" }},
		{"NUL", func(s *storedToken) { s.AccessToken += "\x00" }},
		{"wider scope", func(s *storedToken) { s.Scope = "bot user.read admin" }},
		{"ten-year lifetime", func(s *storedToken) { s.ExpiresAt = s.IssuedAt.Add(10 * 365 * 24 * time.Hour) }},
		{"token type", func(s *storedToken) { s.TokenType = "mac\r\nX: 1" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.stop()
			raw, err := h.store.Get(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			var s storedToken
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			c.edit(&s)
			bad, _ := json.Marshal(s)
			h.store.Set(context.Background(), key, bad)
			before := h.fake.TokenRequests()
			lb := restartLogged(h, false, nil)
			got, err := h.get(client.TokenRequest{})
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if got.AccessToken == s.AccessToken || got.AccessToken == tok.AccessToken || h.fake.TokenRequests() != before+1 {
				t.Fatalf("the edited copy was served (%d token requests)", h.fake.TokenRequests()-before)
			}
			if len(lb.lines("ignoring")) == 0 || strings.Contains(lb.String(), "token loaded from keyring") {
				t.Fatalf("not logged as ignored:\n%s", lb)
			}
		})
	}
}

// TestShortLifetimeIsAnErrorNotALoop: an endpoint granting tokens that live 1 s (or 4m59s)
// made the daemon mint about once a second forever with no client asking. Now such a token
// is neither served nor renewed: the client gets an error, status shows it, and over the
// next 3 s LINE WORKS is not asked again (the next attempt is 15 minutes away). A token of
// the shortest accepted lifetime (5 min) is renewed no sooner than 3m45s after it was
// issued (issue 12, item 8).
func TestShortLifetimeIsAnErrorNotALoop(t *testing.T) {
	for _, life := range []time.Duration{time.Second, 30 * time.Second, minTokenLifetime - time.Second} {
		t.Run(life.String(), func(t *testing.T) {
			h := newHarness(t)
			h.fake.SetLifetime(life)
			before := h.fake.TokenRequests()
			_, err := h.get(client.TokenRequest{})
			time.Sleep(3 * time.Second)
			n := h.fake.TokenRequests() - before
			t.Logf("expires_in %s: %d token requests in 3 s", life, n)
			if n != 1 {
				t.Fatalf("%d token requests in 3 s, want 1", n)
			}
			if !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "line works granted a token that lives only "+life.String()) {
				t.Fatalf("get: %v", err)
			}
			e := h.entry("bot user.read")
			if e.State != "missing" || e.Health != "retrying" || !strings.Contains(e.LastError, "lives only") ||
				e.NextAttempt.IsZero() || e.NextAttempt.Sub(h.clock.Now()) < rejectedRetry-time.Minute {
				t.Fatalf("status: %+v", e)
			}
		})
	}
	h := newHarness(t)
	h.fake.SetLifetime(minTokenLifetime)
	h.mustGet(client.TokenRequest{})
	e := h.entry("bot user.read")
	issued := e.ExpiresAt.Add(-minTokenLifetime)
	if d := e.NextRenewal.Sub(issued); d < time.Duration(float64(minTokenLifetime)*renewMin) {
		t.Fatalf("a %s token renews %s after issue", minTokenLifetime, d)
	}
}
