package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// limitedCache is a token cache with the value limit of a platform keyring (2560 bytes: the
// Windows credential manager; macOS takes about 2.9 KB), failing as keystore.Keyring does.
type limitedCache struct {
	*keystore.Memory
	limit int
	sets  atomic.Int64
}

func (c *limitedCache) Set(ctx context.Context, key string, value []byte) error {
	c.sets.Add(1)
	if len(value) > c.limit {
		return fmt.Errorf("keystore: set %q: %w: %d bytes; the Windows credential manager takes at most %d", key, keystore.ErrTooLarge, len(value), c.limit)
	}
	return c.Memory.Set(ctx, key, value)
}

// TestTokenIndexStaysWithinKeyringLimits: tokens of 300 scope sets are stored in a keyring
// that takes at most 2560 bytes a value. The index stays under maxIndexBytes, lists the
// newest scope sets, and every stored token is listed in it (the oldest leave with their
// tokens), so revoke still finds them all (issue 12, item 13).
func TestTokenIndexStaysWithinKeyringLimits(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	cache := &limitedCache{Memory: keystore.NewMemory(), limit: 2560}
	h.restart(launch{options: func(o *Options) { o.Tokens = cache }})
	ctx := context.Background()
	var last string
	for i := range 300 {
		last = fmt.Sprintf("scope.%03d bot", i)
		v := fmt.Appendf(nil, `{"v":1,"access_token":%q,"token_type":"Bearer","scope":%q,"issued_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-02T00:00:00Z"}`,
			tok.AccessToken, last)
		if err := h.d.store.Set(ctx, keystore.TokenKey("default", last), v); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := cache.Get(ctx, tokenIndexKey("default"))
	if err != nil {
		t.Fatal(err)
	}
	var ix tokenIndex
	if err := json.Unmarshal(raw, &ix); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, s := range ix.Scopes {
		listed[keystore.TokenKey("default", s)] = true
	}
	stored := 0
	for _, k := range cache.Keys() {
		if strings.Contains(k, "/token/") {
			stored++
			if !listed[k] {
				t.Errorf("stored token %s is not in the index", k)
			}
		}
	}
	t.Logf("300 scope sets: the index holds %d in %d bytes; %d tokens stored", len(ix.Scopes), len(raw), stored)
	if len(raw) > maxIndexBytes || !listed[keystore.TokenKey("default", last)] || len(ix.Scopes) < 50 || stored != len(ix.Scopes) {
		t.Fatalf("index of %d bytes, %d scope sets, newest listed: %v, %d tokens stored", len(raw), len(ix.Scopes), listed[keystore.TokenKey("default", last)], stored)
	}
}

// TestTokenTooLargeIsPermanentNotAProbeLoop: a token the keyring refuses as too large is
// served from memory, written once, never retried by the keyring probe, and reported in
// status (issue 12, item 13).
func TestTokenTooLargeIsPermanentNotAProbeLoop(t *testing.T) {
	h := newHarness(t)
	cache := &limitedCache{Memory: keystore.NewMemory(), limit: 100} // no token fits
	h.restart(launch{options: func(o *Options) { o.Tokens = cache; fastRetries(o) }})
	tok := h.mustGet(client.TokenRequest{})
	time.Sleep(2 * time.Second) // 200 probes at the fast schedule if it were retried
	if n := cache.sets.Load(); n != 1 {
		t.Fatalf("%d writes of a token that can never fit, want 1", n)
	}
	if again := h.mustGet(client.TokenRequest{}); again.AccessToken != tok.AccessToken || h.fake.TokenRequests() != 1 {
		t.Fatal("the token is not served from memory")
	}
	st, err := h.c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Keyring, "cannot store the token of profile \"default\"") || !strings.Contains(st.Keyring, "too large") {
		t.Fatalf("status keyring %q", st.Keyring)
	}
}
