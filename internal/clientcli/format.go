package clientcli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
)

// Environment variables that carry a token to a program: set by `exec` in the command's
// environment and printed by `get --format env`. Documented in the README.
const (
	EnvToken          = "LWTOKEN_HELPER_TOKEN"            // the access token
	EnvTokenExpiresAt = "LWTOKEN_HELPER_TOKEN_EXPIRES_AT" // its expiry, RFC 3339 in UTC
)

// Output formats of `get --format`.
const (
	formatToken  = "token"  // the bare token and a newline
	formatHeader = "header" // "Authorization: Bearer TOKEN", for curl -H @- or -H "$(...)"
	formatJSON   = "json"   // one JSON object, for programs and jq
	formatEnv    = "env"    // export lines, for eval in sh, bash and zsh
)

var formats = []string{formatToken, formatHeader, formatJSON, formatEnv}

func validFormat(f string) bool {
	for _, x := range formats {
		if f == x {
			return true
		}
	}
	return false
}

// tokenJSON is the object `get --format json` prints. Fields are added, never renamed.
type tokenJSON struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	Scope     string `json:"scope"`
	ExpiresAt string `json:"expires_at"` // RFC 3339, UTC
	Profile   string `json:"profile"`
}

// writeToken prints t in format f (one of formats).
func writeToken(w io.Writer, f string, t *client.Token) error {
	exp := t.ExpiresAt.UTC().Format(time.RFC3339)
	var err error
	switch f {
	case formatHeader:
		_, err = fmt.Fprintf(w, "Authorization: Bearer %s\n", t.AccessToken)
	case formatJSON:
		typ := t.TokenType
		if typ == "" {
			typ = "Bearer"
		}
		var b []byte
		b, err = json.Marshal(tokenJSON{Token: t.AccessToken, TokenType: typ, Scope: t.Scope, ExpiresAt: exp, Profile: t.Profile})
		if err == nil {
			_, err = w.Write(append(b, '\n'))
		}
	case formatEnv:
		_, err = io.WriteString(w, envLines(t))
	default:
		_, err = fmt.Fprintln(w, t.AccessToken)
	}
	return err
}

// envLines returns the export lines of `get --format env`.
func envLines(t *client.Token) string {
	return "export " + EnvToken + "=" + shellQuote(t.AccessToken) + "\n" +
		"export " + EnvTokenExpiresAt + "=" + shellQuote(t.ExpiresAt.UTC().Format(time.RFC3339)) + "\n"
}

// shellQuote quotes s for POSIX shells: in single quotes, each quote inside written as
// quote, backslash, quote, quote.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
