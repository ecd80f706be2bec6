// Package wire owns the protocol between lwtoken-helperd and its clients: HTTP/1.1 over a
// Unix socket, versioned /v1/ routes (the table in routes.go), JSON bodies, error codes and
// the default socket path. docs/protocol.md is its written form; tests hold the two
// together.
//
// Both sides import it; it imports only the standard library. Fields are added, never
// renamed or removed; a change that breaks a client gets new /v2/ routes.
package wire

import (
	"time"
)

// Host is the only Host header the daemon accepts. Clients always send it.
const Host = "lwtoken-helper"

// Version is the protocol version this build speaks, as Status.Version reports it. It is
// the major version in the routes' paths (/v1/): there is no version header. Within a
// version, changes only add fields, routes and parameters, so there is nothing to
// negotiate; a daemon that does not know a route answers CodeUnknownRoute.
const Version = "1"

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
	Keyring  string        `json:"keyring"` // KeyringOK or the last keyring error
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

// KeyringOK is Status.Keyring when the daemon's last keyring call worked.
const KeyringOK = "ok"

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
	HealthRejected = "rejected" // LINE WORKS refused the credentials; asked again every 15 min, sooner when they change
)

// Error is every non-2xx reply body.
type Error struct {
	Error string `json:"error"` // one lowercase line, no secret
	Code  string `json:"code"`  // one of the Code* constants
	Hint  string `json:"hint,omitempty"`
}

// Error codes. A client maps each to a sentinel and an exit code; HTTPStatus gives the
// status the daemon sends each with.
const (
	CodeBadRequest    = "bad_request"    // malformed request, unknown scope, bad min_ttl
	CodeForbidden     = "forbidden"      // Origin/Referer/Host refused
	CodeNotConfigured = "not_configured" // no such profile, or its secrets are missing
	CodeRejected      = "rejected"       // LINE WORKS refused the credentials (not retryable)
	CodeUnavailable   = "unavailable"    // LINE WORKS unreachable or failing, and no valid token
	CodeKeyring       = "keyring"        // keyring locked or gone and nothing in memory
	CodeInternal      = "internal"
	CodeUnknownRoute  = "unknown_route" // no such route, or not with this method: a daemon older than the client
)

// Codes lists every error code.
var Codes = []string{CodeBadRequest, CodeForbidden, CodeNotConfigured, CodeRejected, CodeUnavailable, CodeKeyring,
	CodeInternal, CodeUnknownRoute}

// HTTPStatus returns the HTTP status the daemon answers an error of code with. Two
// replies differ from it: a known path asked with another method is 405 (CodeUnknownRoute),
// and a request body that is too large or of unknown length is 413 or 411 (CodeBadRequest).
func HTTPStatus(code string) int {
	switch code {
	case CodeBadRequest:
		return 400 // the numbers, not net/http's names: the thin client does not link net/http
	case CodeForbidden:
		return 403
	case CodeNotConfigured, CodeUnknownRoute:
		return 404
	case CodeRejected:
		return 502
	case CodeUnavailable, CodeKeyring:
		return 503
	}
	return 500
}
