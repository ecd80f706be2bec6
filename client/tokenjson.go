package client

import (
	"encoding/json"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// decodeToken decodes the daemon's token reply into t, with the result json.Unmarshal
// into wire.Token and tokenFrom would give. The daemon sends a flat object of plain strings, which is parsed here by hand:
// that spares every `lwtoken-helper get` the first-use cost of encoding/json's reflection
// (about 0.1 ms of a 3 ms process, the largest part of the client's own work in
// scripts/bench). Anything else (an escape, a non-ASCII byte, white space, a value that is
// not a string, an unknown, repeated or differently cased key) goes to json.Unmarshal.
func decodeToken(body []byte, t *Token) error {
	if decodeTokenFast(body, t) {
		return nil
	}
	var w wire.Token
	err := json.Unmarshal(body, &w)
	*t = tokenFrom(&w)
	return err
}

// decodeTokenFast reports whether body is an object of the form
// {"key":"value",...} with only wire.Token's keys, each at most once, and plain ASCII
// values with no escapes, followed by nothing but white space; then t holds it. It fills
// the client's Token directly (the keys are the protocol's), which spares the hot path a
// conversion; TestDecodeTokenMatchesEncodingJSON holds it to the wire type's decoding.
func decodeTokenFast(body []byte, t *Token) bool {
	var got Token
	var seen [5]bool
	i := 0
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i++
	for first := true; ; first = false {
		if i < len(body) && body[i] == '}' && first {
			i++
			break
		}
		key, n := plainString(body[i:])
		if n == 0 || n >= len(body[i:]) || body[i+n] != ':' {
			return false
		}
		i += n + 1
		val, m := plainString(body[i:])
		if m == 0 {
			return false
		}
		i += m
		var k int
		switch key {
		case "access_token":
			k, got.AccessToken = 0, val
		case "token_type":
			k, got.TokenType = 1, val
		case "scope":
			k, got.Scope = 2, val
		case "expires_at":
			k = 3
			// The very parser json.Unmarshal uses for a time.Time.
			if got.ExpiresAt.UnmarshalJSON(body[i-m:i]) != nil {
				return false
			}
		case "profile":
			k, got.Profile = 4, val
		default:
			return false
		}
		if seen[k] {
			return false
		}
		seen[k] = true
		if i >= len(body) {
			return false
		}
		if body[i] == '}' {
			i++
			break
		}
		if body[i] != ',' {
			return false
		}
		i++
	}
	for ; i < len(body); i++ {
		if c := body[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	*t = got
	return true
}

// plainString reads a JSON string at the start of b that has no escape and only printable
// ASCII. It returns the contents and the length including the quotes, or 0.
func plainString(b []byte) (string, int) {
	if len(b) == 0 || b[0] != '"' {
		return "", 0
	}
	for j := 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[1:j]), j + 1
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", 0
		}
	}
	return "", 0
}
