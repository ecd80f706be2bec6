// Package secret owns the types that hold credentials in memory: they never print.
//
// A Value formats as "[redacted]" through fmt (%v, %s, %q, %#v, %x, ...), String,
// GoString, MarshalJSON/MarshalText and slog; only Reveal returns the bytes.
package secret

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Value is a secret string: a client secret, a private key PEM or a token.
//
// The bytes sit behind a pointer: where fmt cannot call Value's methods (a Value in an
// unexported struct field, printed with %v or %+v through reflection) it prints the
// pointer's address, never the secret. Values are compared with Equal, not ==.
type Value struct{ p *string }

// New wraps s.
func New(s string) Value {
	if s == "" {
		return Value{}
	}
	return Value{p: &s}
}

// FromBytes wraps a copy of b.
func FromBytes(b []byte) Value { return New(string(b)) }

// Reveal returns the secret itself. Call it only where the bytes must leave the process
// (an HTTP form body, the keyring, a socket reply).
func (v Value) Reveal() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

// IsZero reports whether the value is empty.
func (v Value) IsZero() bool { return v.Reveal() == "" }

// Len returns the length of the secret in bytes.
func (v Value) Len() int { return len(v.Reveal()) }

// Equal compares two secrets in constant time (for equal lengths).
func (v Value) Equal(o Value) bool {
	return subtle.ConstantTimeCompare([]byte(v.Reveal()), []byte(o.Reveal())) == 1
}

// Fingerprint returns a short, non-reversible name for the secret, safe to log:
// the first 8 hex digits of its SHA-256. Empty for an empty value.
func (v Value) Fingerprint() string {
	if v.IsZero() {
		return ""
	}
	sum := sha256.Sum256([]byte(v.Reveal()))
	return hex.EncodeToString(sum[:4])
}

func (Value) String() string                { return redacted }
func (Value) GoString() string              { return redacted }
func (Value) LogValue() slog.Value          { return slog.StringValue(redacted) }
func (Value) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (Value) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(redacted)) }
