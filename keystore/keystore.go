// Package keystore owns where lwtoken-helper keeps secrets: the OS keyring (Secret Service,
// macOS Keychain, Windows Credential Manager) through go-keyring, every call under a deadline,
// with backend failures turned into a few errors a user can act on. There is no plaintext
// fallback, by design. Memory is an in-process Store for tests.
package keystore

import (
	"context"
	"errors"
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

// Store is a flat map from keys to secret bytes. Implementations are safe for concurrent use.
// Set replaces a value whole: a reader sees the old value or the new one, never a mix.
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
