// Package wire owns the protocol between lwtoken-helperd and its clients: HTTP/1.1 over a
// Unix socket, versioned /v1/ routes, JSON bodies, error codes and the default socket path.
//
// Both sides import it; it imports only the standard library. Fields are added, never renamed.
package wire

import (
	"time"
)

// Host is the only Host header the daemon accepts. Clients always send it.
const Host = "lwtoken-helper"

// VersionHeader carries the protocol version, both ways.
const VersionHeader = "Lwtoken-Helper-Version"

// Version is the protocol version this build speaks.
const Version = "1"

// Routes.
const (
	PathToken  = "/v1/token"  // GET ?profile=&scope=&min_ttl=
	PathStatus = "/v1/status" // GET
	PathReload = "/v1/reload" // POST: re-read config and credentials
	PathRevoke = "/v1/revoke" // POST ?profile=
)

// Query parameters of PathToken.
const (
	ParamProfile = "profile"
	ParamScope   = "scope"   // space- or comma-separated; empty: the profile's scopes
	ParamMinTTL  = "min_ttl" // a Go duration ("30m") or whole seconds
)

// Limits both sides agree on.
const (
	MaxRequestBytes  = 8 << 10  // headers plus body of a request to the daemon
	MaxResponseBytes = 64 << 10 // what a client reads of a reply
)

// Token is the reply to PathToken.
type Token struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	Scope       string    `json:"scope"`
	ExpiresAt   time.Time `json:"expires_at"` // RFC 3339
	Profile     string    `json:"profile"`
}

// Status is the reply to PathStatus.
type Status struct {
	Version  string        `json:"version"`
	PID      int           `json:"pid"`
	Socket   string        `json:"socket"`
	Config   string        `json:"config"`
	Now      time.Time     `json:"now"`
	Keyring  string        `json:"keyring"` // "ok" or the last keyring error
	Entries  []EntryStatus `json:"entries"`
	Profiles []string      `json:"profiles"`
	Default  string        `json:"default_profile"`

	// SecretSource and TokenCache name where the daemon reads the profiles' secrets from
	// and where it caches tokens (keystore's Describe), e.g. "os keyring (secret service)",
	// "files in /run/secrets/lineworks", "kernel keyring", "memory".
	SecretSource string `json:"secret_source,omitempty"`
	TokenCache   string `json:"token_cache,omitempty"`
}

// EntryStatus is the state of one cached token: one (profile, scope set).
type EntryStatus struct {
	Profile             string     `json:"profile"`
	Scope               string     `json:"scope"`
	State               string     `json:"state"`  // a State* constant
	Health              string     `json:"health"` // a Health* constant
	Fingerprint         string     `json:"fingerprint,omitempty"`
	ExpiresAt           *time.Time `json:"expires_at,omitempty"`
	TTLSeconds          int64      `json:"ttl_seconds,omitempty"`
	NextRenewal         *time.Time `json:"next_renewal,omitempty"`
	LastError           string     `json:"last_error,omitempty"`
	LastErrorCode       string     `json:"last_error_code,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures,omitempty"`
	NextAttempt         *time.Time `json:"next_attempt,omitempty"`
	UpstreamRequests    int64      `json:"upstream_requests"`
}

// Token states: EntryStatus.State and ProfileInfo.State.
const (
	StateValid   = "valid"   // cached and not yet expired
	StateExpired = "expired" // cached but expired (renewal keeps failing)
	StateMissing = "missing" // none minted or loaded yet
)

// Health values: EntryStatus.Health and ProfileInfo.Health, from best to worst.
const (
	HealthOK       = "ok"       // the last attempt worked, or none was needed
	HealthRenewing = "renewing" // a token request to LINE WORKS is in flight
	HealthRetrying = "retrying" // a transient failure; the daemon backs off and retries
	HealthRejected = "rejected" // LINE WORKS refused the credentials; not retried until they change
)

// Error is every non-2xx reply body.
type Error struct {
	Error string `json:"error"` // one lowercase line, no secret
	Code  string `json:"code"`  // one of the Code* constants
	Hint  string `json:"hint,omitempty"`
}

// Error codes. A client maps each to a sentinel and an exit code.
const (
	CodeBadRequest    = "bad_request"    // malformed request, unknown scope, bad min_ttl
	CodeForbidden     = "forbidden"      // Origin/Referer/Host refused
	CodeNotConfigured = "not_configured" // no such profile, or its secrets are missing
	CodeRejected      = "rejected"       // LINE WORKS refused the credentials (not retryable)
	CodeUnavailable   = "unavailable"    // LINE WORKS unreachable or failing, and no valid token
	CodeKeyring       = "keyring"        // keyring locked or gone and nothing in memory
	CodeInternal      = "internal"
)
