package daemon

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

func TestFingerprintsAgree(t *testing.T) {
	for _, tok := range []string{"", "a", "U-FtOWjPHh2nwIT6H5MuswcZEAF03lt8hPW6udChK0g"} {
		if got, want := wire.Fingerprint(tok), secret.New(tok).Fingerprint(); got != want {
			t.Errorf("wire.Fingerprint(%q) = %q, the daemon logs %q", tok, got, want)
		}
	}
}

func TestProfilesRoute(t *testing.T) {
	h := newHarness(t)
	h.writeConfig(&config.Config{DefaultProfile: "default", Profiles: map[string]*config.Profile{
		"default": {ClientID: clientID, ServiceAccount: sa, DomainID: "42", Scopes: []string{"user.read", "bot"}, AuthURL: h.fake.AuthURL},
		"gov":     {ClientID: "other", ServiceAccount: sa, Scopes: []string{"bot"}, AuthURL: "https://auth.gov-naverworks.com/oauth2/v2.0"},
	}})
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	h.mustGet(client.TokenRequest{Scope: "bot"}) // a narrower token only: the profile's own is still missing
	ctx := context.Background()
	ps, err := h.c.Profiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Default != "default" || len(ps.Profiles) != 2 || ps.Profiles[0].Name != "default" || ps.Profiles[1].Name != "gov" {
		t.Fatalf("profiles: %+v", ps)
	}
	d, g := ps.Profiles[0], ps.Profiles[1]
	if !d.Default || g.Default || d.DomainID != "42" || d.AuthURL != h.fake.AuthURL || g.AuthURL != "https://auth.gov-naverworks.com/oauth2/v2.0" {
		t.Fatalf("settings: %+v %+v", d, g)
	}
	if d.State != "missing" || len(d.Tokens) != 1 || d.Tokens[0].Scope != "bot" || d.Tokens[0].State != "valid" {
		t.Fatalf("default before a full-scope get: %+v", d)
	}
	h.mustGet(client.TokenRequest{})
	ps, _ = h.c.Profiles(ctx)
	d = ps.Profiles[0]
	if d.State != "valid" || d.TTLSeconds < 23*3600 || d.ExpiresAt.IsZero() || d.Health != "ok" || len(d.Tokens) != 2 {
		t.Fatalf("default after get: %+v", d)
	}
	if g.State != "missing" || g.Health != "ok" || len(g.Tokens) != 0 {
		t.Fatalf("gov: %+v", g)
	}
}

// The status and profiles routes answer from memory: no keyring read, no mint, even for
// a profile that has never been used.
func TestStatusAndProfilesNeverMintOrReadKeyring(t *testing.T) {
	h := newHarness(t)
	gets, sets, dels := h.store.Calls()
	ctx := context.Background()
	for range 5 {
		if _, err := h.c.Status(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := h.c.Profiles(ctx); err != nil {
			t.Fatal(err)
		}
	}
	g2, s2, d2 := h.store.Calls()
	if g2 != gets || s2 != sets || d2 != dels {
		t.Fatalf("status/profiles touched the keyring: gets %d->%d sets %d->%d deletes %d->%d", gets, g2, sets, s2, dels, d2)
	}
	if n := h.fake.TokenRequests(); n != 0 {
		t.Fatalf("status/profiles caused %d token requests", n)
	}
}

func TestRejectedTokenRenewedOnceForManyReporters(t *testing.T) {
	h := newHarness(t)
	old := h.mustGet(client.TokenRequest{})
	h.clock.Advance(time.Hour)
	h.fake.SetDelay(100 * time.Millisecond) // keep the renewal in flight while reports pile up
	const n = 100
	var wg sync.WaitGroup
	toks := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client.Client{SocketPath: h.sock, Timeout: 20 * time.Second}
			t, err := c.Renew(context.Background(), client.TokenRequest{}, old.AccessToken)
			if err == nil {
				toks[i] = t.AccessToken
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("reporter %d: %v", i, errs[i])
		}
		if toks[i] == old.AccessToken || toks[i] != toks[0] {
			t.Fatalf("reporter %d got the old token or another new one", i)
		}
	}
	if got := h.fake.TokenRequests(); got != 2 {
		t.Fatalf("%d reports of one rejected token: %d token requests in all, want 2 (the first mint and one renewal)", n, got)
	}
	// A late report of the old token changes nothing.
	t2, err := h.c.Renew(context.Background(), client.TokenRequest{}, old.AccessToken)
	if err != nil || t2.AccessToken != toks[0] || h.fake.TokenRequests() != 2 {
		t.Fatalf("late report: %v, same token %v, requests %d", err, t2 != nil && t2.AccessToken == toks[0], h.fake.TokenRequests())
	}
}

func TestRejectedReportsThatChangeNothing(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	ctx := context.Background()
	// A token just minted is kept: a server that refuses every token cannot make us loop.
	if got, err := h.c.Renew(ctx, client.TokenRequest{}, tok.AccessToken); err != nil || got.AccessToken != tok.AccessToken {
		t.Fatalf("young token: %v %v", err, got)
	}
	h.clock.Advance(time.Hour)
	// Unknown fingerprint, or a token of another scope set: nothing happens.
	if got, err := h.c.Renew(ctx, client.TokenRequest{}, "not-a-token-we-hold"); err != nil || got.AccessToken != tok.AccessToken {
		t.Fatalf("unknown token: %v", err)
	}
	if got, err := h.c.Renew(ctx, client.TokenRequest{Scope: "bot"}, tok.AccessToken); err != nil || got.AccessToken == tok.AccessToken {
		t.Fatalf("other scope set: %v", err)
	}
	if n := h.fake.TokenRequests(); n != 2 { // the first token and the bot-only one
		t.Fatalf("token requests = %d, want 2", n)
	}
	// A bad profile is reported as for any token request.
	_, err := h.c.Renew(ctx, client.TokenRequest{Profile: "nope"}, tok.AccessToken)
	if err == nil {
		t.Fatal("renew of an unknown profile worked")
	}
	// A raw request with a junk parameter is harmless.
	q := url.Values{wire.ParamRejected: {"zz'\"<>"}}
	if code := rawRequest(t, h.sock, "GET "+wire.PathToken+"?"+q.Encode()+" HTTP/1.1\r\nHost: lwtoken-helper\r\n\r\n"); code != 200 {
		t.Fatalf("junk rejected= answered %d", code)
	}
}
