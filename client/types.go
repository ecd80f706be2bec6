package client

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// The types below are what the Client's calls return. They carry the JSON names of the
// socket protocol (docs/protocol.md), so json.Marshal of a Status prints what
// `lwtoken-helper status --json` prints. The daemon may add fields in later versions;
// it never renames or removes one.

// Token is an access token from the daemon, valid until ExpiresAt. Its String, GoString
// and LogValue methods never show AccessToken, so a Token printed with fmt or logged with
// log/slog leaks nothing; use the field itself to authorize a request.
type Token struct {
	// AccessToken is the bearer token: send "Authorization: Bearer " + AccessToken.
	AccessToken string `json:"access_token"`
	// TokenType is "Bearer".
	TokenType string `json:"token_type"`
	// Scope is the space-separated list of scopes the token carries.
	Scope string `json:"scope"`
	// ExpiresAt is when LINE WORKS stops accepting the token. The daemon renews it well
	// before, so a Token fetched again later is a newer one.
	ExpiresAt time.Time `json:"expires_at"`
	// Profile is the profile the token belongs to (the default one resolved).
	Profile string `json:"profile"`
}

// Fingerprint is the short name of the token that the daemon logs and that status
// replies show: the first 8 hex digits of its SHA-256. It cannot be turned back into
// the token. Empty for an empty token.
func (t Token) Fingerprint() string { return wire.Fingerprint(t.AccessToken) }

// String describes t without its secret: profile, scope, fingerprint and expiry.
func (t Token) String() string {
	return fmt.Sprintf("%s token of profile %q (scope %q, fingerprint %s, expires %s)",
		t.TokenType, t.Profile, t.Scope, t.Fingerprint(), t.ExpiresAt.Format(time.RFC3339))
}

// GoString is String, so that %#v does not print the secret either.
func (t Token) GoString() string { return t.String() }

// LogValue logs t without its secret.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("profile", t.Profile), slog.String("scope", t.Scope),
		slog.String("fingerprint", t.Fingerprint()), slog.Time("expires_at", t.ExpiresAt))
}

// TokenState says whether the daemon holds a usable token for a profile and scope set.
type TokenState string

// Token states (the protocol's; types_test.go checks they match).
const (
	StateValid   TokenState = "valid"   // cached and not yet expired
	StateExpired TokenState = "expired" // cached but expired (renewal keeps failing)
	StateMissing TokenState = "missing" // none minted or loaded yet
)

// Health says how renewal of a token goes.
type Health string

// Health values.
const (
	HealthOK       Health = "ok"       // the last attempt worked, or none was needed
	HealthRenewing Health = "renewing" // a token request to LINE WORKS is in flight
	HealthRetrying Health = "retrying" // LINE WORKS failed or was unreachable; the daemon backs off and retries
	HealthRejected Health = "rejected" // LINE WORKS refused the credentials; asked again every 15 min, sooner when they change
)

// Status is the daemon's state: who it is and every token it caches. It holds no secret.
type Status struct {
	// Version is the protocol version the daemon speaks ("1").
	Version string `json:"version"`
	PID     int    `json:"pid"`
	Socket  string `json:"socket"`
	Config  string `json:"config"`
	// Now is the daemon's clock when it answered.
	Now time.Time `json:"now"`
	// Keyring is KeyringOK, or the last error the daemon met reading or writing the keyring.
	Keyring string `json:"keyring"`
	// Entries are the cached tokens, one per profile and scope set.
	Entries []TokenStatus `json:"entries"`
	// Profiles are the names of the configured profiles, sorted.
	Profiles []string `json:"profiles"`
	// Default is the config's default profile; "" if none.
	Default string `json:"default_profile"`
	// SecretSource and TokenCache name where the daemon reads the profiles' secrets from
	// and where it caches tokens, e.g. "os keyring (secret service)", "files in
	// /run/secrets/lineworks", "kernel keyring", "memory". Empty from older daemons.
	SecretSource string `json:"secret_source,omitempty"`
	TokenCache   string `json:"token_cache,omitempty"`
}

// KeyringOK is Status.Keyring when the daemon's last keyring call worked.
const KeyringOK = "ok"

// TokenStatus is the state of one cached token: one profile and scope set. It holds no
// secret (the token appears only as its fingerprint). Zero times mean "none".
type TokenStatus struct {
	Profile     string     `json:"profile"`
	Scope       string     `json:"scope"` // space-separated
	State       TokenState `json:"state"`
	Health      Health     `json:"health"`
	Fingerprint string     `json:"fingerprint,omitempty"` // of the cached token (see Token.Fingerprint)
	ExpiresAt   time.Time  `json:"expires_at,omitzero"`
	TTLSeconds  int64      `json:"ttl_seconds,omitempty"` // seconds left until ExpiresAt
	NextRenewal time.Time  `json:"next_renewal,omitzero"` // when the daemon renews it
	// LastError and LastErrorCode describe the last failed attempt (the code is one of the
	// protocol's error codes, e.g. "unavailable" or "rejected"); ConsecutiveFailures
	// counts failures since the last success, and NextAttempt is the next retry.
	LastError           string    `json:"last_error,omitempty"`
	LastErrorCode       string    `json:"last_error_code,omitempty"`
	ConsecutiveFailures int       `json:"consecutive_failures,omitempty"`
	NextAttempt         time.Time `json:"next_attempt,omitzero"`
	// UpstreamRequests counts the token requests sent to LINE WORKS for this entry.
	UpstreamRequests int64 `json:"upstream_requests"`
}

// Profiles lists the daemon's profiles and the state of their tokens.
type Profiles struct {
	Default  string    `json:"default_profile"` // the config's default profile; "" if none
	Profiles []Profile `json:"profiles"`        // sorted by name
}

// Profile is one configured profile: its settings (never a secret) and the state of its
// tokens.
type Profile struct {
	Name string `json:"name"`
	// Default reports whether this is the config's default profile (a client's
	// $LWTOKEN_HELPER_PROFILE may pick another).
	Default        bool     `json:"default"`
	ClientID       string   `json:"client_id"`
	ServiceAccount string   `json:"service_account"`
	DomainID       string   `json:"domain_id,omitempty"`
	Scopes         []string `json:"scopes"`
	AuthURL        string   `json:"auth_url"` // the token endpoint's base URL

	// State, ExpiresAt and TTLSeconds are those of the token for all the profile's
	// scopes (what Token returns with no Scope).
	State      TokenState `json:"state"`
	ExpiresAt  time.Time  `json:"expires_at,omitzero"`
	TTLSeconds int64      `json:"ttl_seconds,omitempty"`
	// Health is the worst of the profile's tokens, with the last error.
	Health    Health `json:"health"`
	LastError string `json:"last_error,omitempty"`
	// Tokens lists every cached token of the profile, one per scope set.
	Tokens []TokenStatus `json:"tokens"`
}

// Revoked says what a Revoke call revoked at LINE WORKS and dropped.
type Revoked struct {
	Profile string `json:"profile"`
	// Revoked counts the tokens revoked at LINE WORKS and dropped from the daemon's memory
	// and the keyring.
	Revoked int `json:"revoked"`
	// Fingerprints are those of the tokens revoked (see Token.Fingerprint).
	Fingerprints []string `json:"fingerprints,omitempty"`
	// Skipped counts stored tokens of earlier credentials, deleted without revocation.
	Skipped int `json:"skipped,omitempty"`
}

// Conversions from the protocol's types. Every field of a wire reply has its counterpart
// here; types_test.go checks it by reflection, so that a field the daemon adds cannot be
// dropped on the way.

func tokenFrom(w *wire.Token) Token {
	return Token{AccessToken: w.AccessToken, TokenType: w.TokenType, Scope: w.Scope, ExpiresAt: w.ExpiresAt, Profile: w.Profile}
}

func statusFrom(w *wire.Status) *Status {
	return &Status{Version: w.Version, PID: w.PID, Socket: w.Socket, Config: w.Config, Now: w.Now, Keyring: w.Keyring,
		Entries: tokenStatusesFrom(w.Entries), Profiles: w.Profiles, Default: w.Default, SecretSource: w.SecretSource,
		TokenCache: w.TokenCache}
}

func tokenStatusesFrom(ws []wire.EntryStatus) []TokenStatus {
	if ws == nil {
		return nil
	}
	out := make([]TokenStatus, len(ws))
	for i, w := range ws {
		out[i] = TokenStatus{Profile: w.Profile, Scope: w.Scope, State: TokenState(w.State), Health: Health(w.Health),
			Fingerprint: w.Fingerprint, ExpiresAt: deref(w.ExpiresAt), TTLSeconds: w.TTLSeconds, NextRenewal: deref(w.NextRenewal),
			LastError: w.LastError, LastErrorCode: w.LastErrorCode, ConsecutiveFailures: w.ConsecutiveFailures,
			NextAttempt: deref(w.NextAttempt), UpstreamRequests: w.UpstreamRequests}
	}
	return out
}

func profilesFrom(w *wire.Profiles) *Profiles {
	p := &Profiles{Default: w.Default}
	if w.Profiles != nil {
		p.Profiles = make([]Profile, len(w.Profiles))
	}
	for i, w := range w.Profiles {
		p.Profiles[i] = Profile{Name: w.Name, Default: w.Default, ClientID: w.ClientID, ServiceAccount: w.ServiceAccount,
			DomainID: w.DomainID, Scopes: w.Scopes, AuthURL: w.AuthURL, State: TokenState(w.State), ExpiresAt: deref(w.ExpiresAt),
			TTLSeconds: w.TTLSeconds, Health: Health(w.Health), LastError: w.LastError, Tokens: tokenStatusesFrom(w.Tokens)}
	}
	return p
}

func revokedFrom(w *wire.Revoked) *Revoked {
	return &Revoked{Profile: w.Profile, Revoked: w.Revoked, Fingerprints: w.Fingerprints, Skipped: w.Skipped}
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
