// Package lwauth owns the LINE WORKS API 2.0 service-account token grant: building and
// signing the RS256 JWT assertion, posting the token and revoke requests, parsing the
// replies (expires_in as a string or a number) and classifying failures.
//
// It does not retry: the daemon's renewer owns one retry policy.
package lwauth

import (
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
)

// DefaultAuthURL is the auth base URL of LINE WORKS (the token endpoint is DefaultAuthURL+"/token").
const DefaultAuthURL = "https://auth.worksmobile.com/oauth2/v2.0"

// GrantTypeJWTBearer is the grant_type of the JWT-bearer (service account) grant.
const GrantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// AssertionLifetime is how long a JWT assertion made by NewAssertion is valid after it is made.
// LINE WORKS accepts at most 3600 s between iat and exp.
const AssertionLifetime = 10 * time.Minute

// assertionBackdate is how far iat is set in the past to absorb a little clock skew.
const assertionBackdate = 10 * time.Second

// Credentials identify a LINE WORKS app and its service account.
//
// Credentials format as a redacted summary through fmt, slog and encoding/json:
// the client secret and the private key never print.
type Credentials struct {
	ClientID       string
	ServiceAccount string
	ClientSecret   secret.Value
	PrivateKey     *rsa.PrivateKey
}

// String returns a summary without the secret or the key.
func (cr Credentials) String() string {
	key := "<nil>"
	if cr.PrivateKey != nil {
		key = "[redacted]"
	}
	return fmt.Sprintf("lwauth.Credentials{ClientID:%q, ServiceAccount:%q, ClientSecret:%s, PrivateKey:%s}",
		cr.ClientID, cr.ServiceAccount, cr.ClientSecret, key)
}

// GoString is String: %#v must not print the key either.
func (cr Credentials) GoString() string { return cr.String() }

// Format prints String for every verb, so no verb can reach the key's fields.
func (cr Credentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(cr.String())) }

// LogValue logs the client id and service account only.
func (cr Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", cr.ClientID),
		slog.String("service_account", cr.ServiceAccount),
	)
}

// MarshalJSON writes the client id and service account only.
func (cr Credentials) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"client_id":%q,"service_account":%q}`, cr.ClientID, cr.ServiceAccount), nil
}

// Client talks to the LINE WORKS token endpoint. The zero value is ready to use.
// A Client never retries: every failure is returned to the caller, classified (see Error).
type Client struct {
	// AuthURL is the auth base URL; the token endpoint is AuthURL+"/token" and the revoke
	// endpoint AuthURL+"/revoke". "" means DefaultAuthURL; a trailing slash is tolerated.
	// It must be an absolute http or https URL.
	AuthURL string
	// HTTPClient sends the requests. nil means a shared client with a 30 s timeout that
	// does not follow redirects. A client of your own should not follow them either: a
	// 307 would resend the client secret to wherever it points.
	HTTPClient *http.Client
	// Now is the clock for the assertion and the token's IssuedAt. nil means time.Now.
	Now func() time.Time
}

// Token is an access token as granted by LINE WORKS.
type Token struct {
	AccessToken  secret.Value
	RefreshToken secret.Value  // zero when the answer carried none
	TokenType    string        // "Bearer" when the answer carried none
	Scope        []string      // as granted, sorted and deduplicated; the requested scopes when the answer carried none
	ExpiresIn    time.Duration // as granted, always > 0, at most MaxLifetime (a longer grant is clamped)
	IssuedAt     time.Time     // the client's Now when the request was sent
	Expiry       time.Time     // IssuedAt + ExpiresIn
}
