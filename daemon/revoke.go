package daemon

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// maxIndexBytes bounds a profile's token index item, well under the smallest value a
// platform keyring takes (2560 bytes on Windows, about 2.9 KB on macOS): about 100 scope sets
// of two scopes. When one more would not fit, the oldest scope sets leave the index, and
// their stored tokens are deleted with them, so that every stored token stays listed (and
// revocable) and the index never becomes a write the keyring refuses.
const maxIndexBytes = 2048

// tokenIndexKey names the keyring item that lists the canonical scope sets of a profile's
// stored tokens, so that revocation and `setup --delete` also find the tokens of scope
// subsets minted by an earlier daemon (a keyring cannot be listed portably).
func tokenIndexKey(profile string) string { return "profile/" + profile + "/token-index" }

// parseTokenKey is the inverse of keystore.TokenKey.
func parseTokenKey(key string) (profile, scope string, ok bool) {
	rest, ok := strings.CutPrefix(key, "profile/")
	if !ok {
		return "", "", false
	}
	profile, scope, ok = strings.Cut(rest, "/token/")
	if !ok || !config.ValidProfileName(profile) || keystore.TokenKey(profile, scope) != key {
		return "", "", false
	}
	return profile, scope, true
}

type tokenIndex struct {
	V      int      `json:"v"`
	Scopes []string `json:"scopes"`
}

// readIndex returns the scope sets listed in profile's index; none when it is absent or
// unreadable as an index.
func readIndex(ctx context.Context, store keystore.Store, profile string) ([]string, error) {
	raw, err := store.Get(ctx, tokenIndexKey(profile))
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ix tokenIndex
	if json.Unmarshal(raw, &ix) != nil || ix.V != 1 {
		return nil, nil
	}
	return ix.Scopes, nil
}

// storedScopes returns the scope sets under which tokens of profile may be stored: those in
// its index, p's scopes (p may be nil) and extra, sorted, without duplicates.
func storedScopes(ctx context.Context, store keystore.Store, profile string, p *config.Profile, extra ...string) ([]string, error) {
	scopes, err := readIndex(ctx, store, profile)
	if p != nil {
		scopes = append(scopes, lwauth.CanonicalScope(p.Scopes))
	}
	scopes = append(scopes, extra...)
	slices.Sort(scopes)
	return slices.Compact(scopes), err
}

// tokenStore is the daemon's view of the keyring. It passes every call through, and:
//   - stores a token with its expiry where the cache can forget it then (keystore.Expiring);
//   - after a token is stored, lists its scope set in the profile's index;
//   - drops writes of a token of a profile that is no longer configured (a mint that was in
//     flight when `setup --delete` removed it) and of a revoked token (a renewal or a
//     retried write racing `revoke`), and reads a revoked token as absent.
type tokenStore struct {
	keystore.TokenCache
	d *Daemon

	mu      sync.Mutex
	seen    *config.Config  // the config the indexed cache is valid for
	indexed map[string]bool // profile\x00scope known to be listed in the index
	revoked map[[sha256.Size]byte]bool
}

func newTokenStore(d *Daemon, s keystore.TokenCache) *tokenStore {
	return &tokenStore{TokenCache: s, d: d, indexed: map[string]bool{}, revoked: map[[sha256.Size]byte]bool{}}
}

func (s *tokenStore) markRevoked(v secret.Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.revoked) >= 4096 {
		clear(s.revoked) // revoked tokens die within a day; this only bounds memory
	}
	s.revoked[sha256.Sum256([]byte(v.Reveal()))] = true
}

func (s *tokenStore) isRevoked(v secret.Value) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked[sha256.Sum256([]byte(v.Reveal()))]
}

func (s *tokenStore) Get(ctx context.Context, key string) ([]byte, error) {
	raw, err := s.TokenCache.Get(ctx, key)
	if err != nil {
		return raw, err
	}
	if _, _, ok := parseTokenKey(key); ok {
		if t, perr := parseStoredToken(raw); perr == nil && s.isRevoked(t.Access) {
			return nil, fmt.Errorf("%s: revoked: %w", key, keystore.ErrNotFound)
		}
	}
	return raw, nil
}

func (s *tokenStore) Set(ctx context.Context, key string, value []byte) error {
	profile, scope, ok := parseTokenKey(key)
	if !ok {
		return s.TokenCache.Set(ctx, key, value)
	}
	if s.d.profile(profile) == nil {
		s.d.log.Info("not storing a token of a profile that is no longer configured", "profile", profile)
		return nil
	}
	t, perr := parseStoredToken(value)
	if perr == nil && s.isRevoked(t.Access) {
		s.d.log.Info("not storing a revoked token", "profile", profile, "fingerprint", t.Access.Fingerprint())
		return nil
	}
	var err error
	if ex, ok := s.TokenCache.(keystore.Expiring); ok && perr == nil {
		err = ex.SetUntil(ctx, key, value, t.Expiry) // the cache forgets it when it dies
	} else {
		err = s.TokenCache.Set(ctx, key, value)
	}
	if err != nil {
		return err
	}
	s.index(ctx, profile, scope)
	return nil
}

// index lists scope in profile's index, once per config (a reload may follow a
// `setup --delete` that removed the index).
func (s *tokenStore) index(ctx context.Context, profile, scope string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg := s.d.config(); cfg != s.seen {
		clear(s.indexed)
		s.seen = cfg
	}
	k := profile + "\x00" + scope
	if s.indexed[k] {
		return
	}
	scopes, err := readIndex(ctx, s.TokenCache, profile)
	if err != nil {
		s.d.log.Debug("cannot read the token index", "profile", profile, "err", err)
		return // never overwrite an index that could not be read
	}
	if !slices.Contains(scopes, scope) {
		scopes = append(scopes, scope)
		b, _ := json.Marshal(tokenIndex{V: 1, Scopes: scopes})
		for len(b) > maxIndexBytes && len(scopes) > 1 {
			old := scopes[0]
			scopes = scopes[1:]
			delete(s.indexed, profile+"\x00"+old)
			err := s.TokenCache.Delete(ctx, keystore.TokenKey(profile, old))
			if err != nil && !errors.Is(err, keystore.ErrNotFound) {
				s.d.log.Debug("cannot delete the token of a scope set leaving the index", "profile", profile, "err", err)
				return // keep it listed: the index is not rewritten
			}
			s.d.log.Info("token index full: dropped the oldest scope set and its stored token", "profile", profile, "scope", old)
			b, _ = json.Marshal(tokenIndex{V: 1, Scopes: scopes})
		}
		if err := s.TokenCache.Set(ctx, tokenIndexKey(profile), b); err != nil {
			level := slog.LevelDebug
			if errors.Is(err, keystore.ErrTooLarge) {
				level = slog.LevelWarn
			}
			s.d.log.Log(ctx, level, "cannot write the token index", "profile", profile, "bytes", len(b), "err", err)
			return
		}
	}
	s.indexed[k] = true
}

// candidate is one token to revoke: where it is held in memory and in the keyring.
type candidate struct {
	tok     *cachedToken
	entries []*entry
	keys    []string
}

// candidates are the tokens to revoke, each once, in the order found.
type candidates struct {
	order []string
	m     map[string]*candidate // by token value
}

func (cs *candidates) add(t *cachedToken) *candidate {
	if cs.m == nil {
		cs.m = map[string]*candidate{}
	}
	k := t.Access.Reveal()
	c := cs.m[k]
	if c == nil {
		c = &candidate{tok: t}
		cs.m[k] = c
		cs.order = append(cs.order, k)
	}
	return c
}

func (cs *candidates) list() []*candidate {
	out := make([]*candidate, 0, len(cs.order))
	for _, k := range cs.order {
		out = append(out, cs.m[k])
	}
	return out
}

// collectStored adds the tokens of profile stored in store under the given scope sets. It
// returns the first keyring error other than "not found", after looking at every key.
func collectStored(ctx context.Context, store keystore.Store, profile string, scopes []string, cs *candidates) error {
	var first error
	for _, scope := range scopes {
		key := keystore.TokenKey(profile, scope)
		raw, err := store.Get(ctx, key)
		if errors.Is(err, keystore.ErrNotFound) {
			continue
		}
		if err != nil {
			first = cmp.Or(first, err)
			continue
		}
		t, err := parseStoredToken(raw)
		if err != nil {
			continue // not a token: nothing to revoke
		}
		c := cs.add(t)
		c.keys = append(c.keys, key)
	}
	return first
}

// usable reports whether t was issued to p's current credentials, the only ones that can
// revoke it (a stored token of an earlier client id or auth url is not).
func usable(t *cachedToken, p *config.Profile) bool {
	return t.ClientID == p.ClientID && t.AuthURL == p.AuthURLOrDefault()
}

// revokeAt revokes t at the profile's auth url.
func revokeAt(ctx context.Context, hc *http.Client, now func() time.Time, p *config.Profile, creds lwauth.Credentials, t *cachedToken) error {
	cl := &lwauth.Client{AuthURL: p.AuthURLOrDefault(), HTTPClient: hc, Now: now}
	return cl.Revoke(ctx, creds, t.Access, "access_token")
}

// deleteIfSame deletes the keyring item key if it still holds t (not a newer token).
func deleteIfSame(ctx context.Context, store keystore.Store, key string, t *cachedToken) error {
	raw, err := store.Get(ctx, key)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur, perr := parseStoredToken(raw); perr == nil && !cur.Access.Equal(t.Access) {
		return nil
	}
	if err := store.Delete(ctx, key); err != nil && !errors.Is(err, keystore.ErrNotFound) {
		return err
	}
	return nil
}

// loadCredentials reads profile's secrets from store.
func loadCredentials(ctx context.Context, store keystore.Store, profile string, p *config.Profile) (lwauth.Credentials, error) {
	keyPEM, err := store.Get(ctx, keystore.PrivateKeyKey(profile))
	if err != nil {
		return lwauth.Credentials{}, err
	}
	cs, err := store.Get(ctx, keystore.ClientSecretKey(profile))
	if err != nil {
		return lwauth.Credentials{}, err
	}
	key, err := lwauth.ParsePrivateKey(keyPEM)
	if err != nil {
		return lwauth.Credentials{}, fmt.Errorf("the private key stored for profile %q is unusable: %w", profile, err)
	}
	return lwauth.Credentials{ClientID: p.ClientID, ServiceAccount: p.ServiceAccount, ClientSecret: secret.FromBytes(cs), PrivateKey: key}, nil
}

// revokeError describes a revocation that did not complete.
func revokeError(profile string, done, total int, err error) *replyError {
	code := wire.CodeUnavailable
	var le *lwauth.Error
	if errors.As(err, &le) && !le.Retryable {
		code = wire.CodeRejected
	}
	return &replyError{Code: code, Err: err,
		Msg:  fmt.Sprintf("revoked %d of %d tokens of profile %q; line works did not revoke the others: %v", done, total, profile, err),
		Hint: "the tokens not revoked stay cached and are still served; run `lwtoken-helper revoke` again once line works answers"}
}

// revoke revokes at LINE WORKS every token of profile that the daemon holds in memory or
// finds in the keyring, and drops each one revoked from both: the next request mints a new
// token. A token whose revocation failed stays cached (and served), so that it can be
// revoked again; a stored token of other credentials (an earlier client id or auth url)
// cannot be revoked with the profile's and is only deleted.
func (d *Daemon) revoke(ctx context.Context, profile string, p *config.Profile) (*wire.Revoked, *replyError) {
	b := d.broker
	var cs candidates
	// In memory: wait for fetches in flight, so that a token being minted is revoked too.
	b.mu.Lock()
	var es []*entry
	for _, e := range b.entries {
		if e.profile == profile {
			es = append(es, e)
		}
	}
	b.mu.Unlock()
	var entryScopes []string
	for _, e := range es {
		entryScopes = append(entryScopes, e.scope)
		for {
			e.mu.Lock()
			c, t := e.call, e.tok
			e.mu.Unlock()
			if c == nil {
				if t != nil {
					cand := cs.add(t)
					cand.entries = append(cand.entries, e)
				}
				break
			}
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, &replyError{Code: wire.CodeUnavailable, Msg: "revoke: gave up waiting for a token request in flight: " + ctx.Err().Error(),
					Err: ctx.Err(), Hint: "try again"}
			}
		}
	}
	// Durable first: whatever happens to the keyring below (locked, gone), no token of the
	// profile issued until now is loaded by a later daemon (see revocations.go).
	recErr := recordRevocation(d.revocationsPath(), profile, d.now())
	if recErr != nil {
		d.log.Warn("cannot record the revocation", "profile", profile, "err", recErr)
	}
	// The keyring as it is: the daemon's view hides revoked tokens, which must go too.
	raw := d.store.TokenCache
	scopes, kerr := storedScopes(ctx, raw, profile, p, entryScopes...)
	kerr = cmp.Or(kerr, collectStored(ctx, raw, profile, scopes, &cs))
	list := cs.list()
	res := &wire.Revoked{Profile: profile}
	if len(list) == 0 {
		if kerr != nil {
			return nil, d.classify(profile, kerr)
		}
		return res, nil
	}
	var creds lwauth.Credentials
	var credErr error
	for _, c := range list {
		if usable(c.tok, p) && c.tok.Expiry.After(d.now()) {
			creds, credErr = b.credentials(ctx, profile)
			break
		}
	}
	if credErr != nil {
		return nil, d.classify(profile, credErr)
	}
	var failed error
	var fps []string
	revoked, failures := 0, 0
	for _, c := range list {
		fp := c.tok.Access.Fingerprint()
		switch {
		case !c.tok.Expiry.After(d.now()):
			// Dead already: dropped, nothing to ask LINE WORKS.
		case usable(c.tok, p):
			if err := revokeAt(ctx, d.httpClient, d.now, p, creds, c.tok); err != nil {
				d.log.Warn("revoke failed", "profile", profile, "fingerprint", fp, "err", err)
				failed = cmp.Or(failed, err)
				failures++
				continue
			}
			revoked++
			fps = append(fps, fp)
		default:
			d.log.Warn("dropping a stored token of other credentials without revoking it", "profile", profile, "fingerprint", fp)
			res.Skipped++
		}
		d.store.markRevoked(c.tok.Access)
		for _, e := range c.entries {
			e.mu.Lock()
			if e.tok != nil && e.tok.Access.Equal(c.tok.Access) {
				e.tok = nil
				e.renewAt = time.Time{}
			}
			e.mu.Unlock()
		}
		for _, key := range c.keys {
			if err := deleteIfSame(ctx, raw, key, c.tok); err != nil {
				d.keyringStatus(err)
				kerr = cmp.Or(kerr, err)
			}
		}
	}
	res.Revoked, res.Fingerprints = revoked, fps
	if failed != nil {
		return res, revokeError(profile, revoked, revoked+failures, failed)
	}
	if kerr != nil {
		e := d.classify(profile, kerr)
		e.Msg = fmt.Sprintf("revoked %d tokens of profile %q at line works, but the keyring failed: %s", revoked, profile, e.Msg)
		if recErr == nil {
			e.Msg += "; no token stored until now will be served again"
		} else {
			e.Msg += fmt.Sprintf("; and the revocation could not be recorded (%v): a restarted daemon could serve a stored revoked token", recErr)
			e.Hint = "make the keyring available and run `lwtoken-helper revoke` again before restarting the daemon"
		}
		return res, e
	}
	return res, nil
}

func (d *Daemon) handleRevoke(w http.ResponseWriter, r *http.Request) {
	profile, p, derr := d.resolveProfile(r.URL.Query().Get(wire.ParamProfile))
	if derr != nil {
		writeError(w, statusOf(derr.Code), derr)
		return
	}
	// The reply must be written before the server's write deadline.
	timeout := fetchTimeout
	if d.srv != nil && d.srv.WriteTimeout > 10*time.Second {
		timeout = min(timeout, d.srv.WriteTimeout-5*time.Second)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	res, derr := d.revoke(ctx, profile, p)
	peer, _ := peerFrom(r.Context())
	attrs := []any{"profile", profile, "peer_pid", peer.PID, "peer_uid", peer.UID, "peer_exe", exeOf(peer.PID)}
	if res != nil {
		attrs = append(attrs, "revoked", res.Revoked, "fingerprints", strings.Join(res.Fingerprints, ","))
	}
	if derr != nil {
		d.log.Warn("revoke incomplete", append(attrs, "err", derr.Msg)...)
		writeError(w, statusOf(derr.Code), derr)
		return
	}
	d.log.Info("tokens revoked", attrs...)
	writeJSON(w, http.StatusOK, res)
}

// RevokeStored revokes at LINE WORKS the tokens of profile stored in store (under the scope
// sets of its index and of the profile's scopes in the config file at configPath) and
// deletes each one revoked. It is what `setup --delete` does when no daemon runs; a running
// daemon does the same, for the tokens it holds in memory too, on POST /v1/revoke. hc nil
// means a default HTTP client. It returns how many tokens it revoked and, after trying
// them all, the first error: the config's (the profile is not in it, or it cannot be read
// or trusted), a keyring error (wrapping keystore's sentinels), or LINE WORKS's refusal.
func RevokeStored(ctx context.Context, store keystore.Store, configPath, profile string, hc *http.Client) (int, error) {
	cfg, err := loadConfig(configPath, os.Getuid())
	if err != nil {
		return 0, err
	}
	p := cfg.Profiles[profile]
	if p == nil {
		return 0, fmt.Errorf("revoke: profile %q is not in %s", profile, configPath)
	}
	var cs candidates
	scopes, kerr := storedScopes(ctx, store, profile, p)
	kerr = cmp.Or(kerr, collectStored(ctx, store, profile, scopes, &cs))
	var todo []*candidate
	for _, c := range cs.list() {
		if usable(c.tok, p) && c.tok.Expiry.After(time.Now()) {
			todo = append(todo, c)
		}
	}
	if len(todo) == 0 {
		return 0, kerr
	}
	creds, err := loadCredentials(ctx, store, profile, p)
	if err != nil {
		return 0, err
	}
	n := 0
	var failed error
	for _, c := range todo {
		if err := revokeAt(ctx, hc, time.Now, p, creds, c.tok); err != nil {
			failed = cmp.Or(failed, err)
			continue
		}
		n++
		for _, key := range c.keys {
			kerr = cmp.Or(kerr, deleteIfSame(ctx, store, key, c.tok))
		}
	}
	return n, cmp.Or(failed, kerr)
}

// DeleteProfile deletes every keyring item of profile: its private key and client secret,
// its stored tokens (under the scope sets of its index and, if not nil, of scopes: the
// profile's scopes, once it is gone from the config) and the index. It returns how many
// items it deleted; absent items are not an error. After a keyring error it still tries
// the rest, then returns the first error.
func DeleteProfile(ctx context.Context, store keystore.Store, profile string, scopes []string) (int, error) {
	var p *config.Profile
	if scopes != nil {
		p = &config.Profile{Scopes: scopes}
	}
	scopes, first := storedScopes(ctx, store, profile, p)
	keys := []string{keystore.PrivateKeyKey(profile), keystore.ClientSecretKey(profile)}
	for _, s := range scopes {
		keys = append(keys, keystore.TokenKey(profile, s))
	}
	n := 0
	for _, k := range keys {
		err := store.Delete(ctx, k)
		switch {
		case err == nil:
			n++
		case errors.Is(err, keystore.ErrNotFound):
		default:
			first = cmp.Or(first, err)
		}
	}
	if first != nil {
		return n, first // keep the index: it finds the tokens left at the next attempt
	}
	if err := store.Delete(ctx, tokenIndexKey(profile)); err == nil {
		n++
	} else if !errors.Is(err, keystore.ErrNotFound) {
		return n, err
	}
	return n, nil
}
