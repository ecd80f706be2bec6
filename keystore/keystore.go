// Package keystore owns where lwtoken-helper keeps secrets, in two roles chosen once when the
// daemon starts and shown by `status` and `doctor`:
//
//   - Secrets is where the long-lived secrets come from (a profile's private key and client
//     secret, under PrivateKeyKey and ClientSecretKey). The daemon only reads them.
//   - TokenCache is where short-lived access tokens are kept across daemon restarts (under
//     TokenKey). The daemon reads, writes and deletes there.
//
// Keyring (the OS keyring: Secret Service, macOS Keychain, Windows Credential Manager,
// through go-keyring, every call under a deadline) is both, on a desktop, and Store is what
// `setup` writes to. Memory is an in-process Store for tests, and a TokenCache that forgets
// everything when the process ends. There is no plaintext fallback for secrets, by design.
//
// Every implementation returns errors wrapping the sentinels below (ErrNotFound for an
// absent key), which Hint turns into advice for users.
package keystore

import (
	"context"
	"errors"
	"log/slog"
)

// Service is the keyring service name under which every item is stored.
const Service = "lwtoken-helper"

// Errors every Store returns (wrapped, test with errors.Is).
var (
	ErrNotFound    = errors.New("not found in keyring")
	ErrUnavailable = errors.New("keyring unavailable") // no Secret Service / D-Bus, backend missing
	ErrLocked      = errors.New("keyring locked")      // locked or missing collection, no prompt possible
	ErrTooLarge    = errors.New("value too large for this keyring")
	ErrTimeout     = errors.New("keyring did not answer in time") // e.g. waiting on an unlock prompt
)

// Secrets is a read-only source of a profile's long-lived secrets, keyed by PrivateKeyKey and
// ClientSecretKey. Get returns a copy the caller may clear; it fails with an error wrapping
// ErrNotFound when the source has no such secret, or another sentinel of this package.
// Implementations are safe for concurrent use.
type Secrets interface {
	Get(ctx context.Context, key string) ([]byte, error)
	// Describe names the source for status and doctor, e.g. "os keyring"; it holds no secret.
	Describe() string
}

// Locator is implemented by a Secrets that can say where a key is kept, for error messages
// (Dir: the file). Locate returns "" for a key it does not hold.
type Locator interface {
	Locate(key string) string
}

// Watcher is implemented by a Secrets whose contents can change while the daemon runs (Dir).
// Watch calls changed with the name of each profile whose secrets changed (content, or
// whether they can be read), until ctx ends; it then returns. Calls of changed come from one
// goroutine, one at a time. Watch reports its own trouble to log and never stops early.
type Watcher interface {
	Watch(ctx context.Context, log *slog.Logger, changed func(profile string))
}

// TokenCache keeps short-lived access tokens (and the daemon's index of them) across daemon
// restarts, keyed by TokenKey. It never holds a private key or client secret. Get fails with
// ErrNotFound for an absent key, Delete too; Set replaces a value whole: a reader sees the
// old value or the new one, never a mix. Implementations are safe for concurrent use.
type TokenCache interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error // ErrNotFound if absent
	// Describe names the cache for status and doctor, e.g. "os keyring" or "memory".
	Describe() string
}

// Store is a flat map from keys to secret bytes: what `setup` writes a profile's secrets to.
// Implementations are safe for concurrent use. Set replaces a value whole: a reader sees the
// old value or the new one, never a mix.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error // ErrNotFound if absent
}

// Keys of the items lwtoken-helper stores, per profile.
func PrivateKeyKey(profile string) string   { return "profile/" + profile + "/private-key" }
func ClientSecretKey(profile string) string { return "profile/" + profile + "/client-secret" }

// TokenKey names the cached token of a profile for a canonical scope string.
func TokenKey(profile, canonicalScope string) string {
	return "profile/" + profile + "/token/" + canonicalScope
}
