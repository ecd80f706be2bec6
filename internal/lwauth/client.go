package lwauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

const (
	opToken  = "token request"
	opRevoke = "revoke"

	maxResponseBytes = 64 << 10                  // what is read of any answer
	maxErrorBody     = 1 << 10                   // what Error.Body keeps
	maxExpiresIn     = 10 * 365 * 24 * time.Hour // beyond: refused as nonsense
)

// MaxLifetime is the longest life a token is trusted to have: LINE WORKS access tokens live
// 24 hours. A longer expires_in is clamped to it, so that an endpoint cannot make the daemon
// serve a token, and skip renewing it, for longer than LINE WORKS honours it.
const MaxLifetime = 24 * time.Hour

// defaultHTTPClient is used when Client.HTTPClient is nil.
var defaultHTTPClient = &http.Client{
	Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Token mints an access token with the JWT-bearer grant and a fresh assertion. The
// scopes are sent canonical (sorted, deduplicated, space-separated).
//
// It returns a plain error for invalid arguments (missing credentials, no scope, bad
// AuthURL) and an *Error for every failure after that; see Error for the classification.
// No error text holds the client secret, the assertion or a token.
func (c *Client) Token(ctx context.Context, cr Credentials, scopes []string) (*Token, error) {
	switch {
	case cr.ClientID == "":
		return nil, errors.New("lwauth: token request: missing client id")
	case cr.ServiceAccount == "":
		return nil, errors.New("lwauth: token request: missing service account")
	case cr.ClientSecret.IsZero():
		return nil, errors.New("lwauth: token request: missing client secret")
	case cr.PrivateKey == nil:
		return nil, errors.New("lwauth: token request: missing private key")
	}
	scope := CanonicalScope(scopes)
	if scope == "" {
		return nil, errors.New("lwauth: token request: no scope requested")
	}
	endpoint, err := c.endpoint("token")
	if err != nil {
		return nil, fmt.Errorf("lwauth: token request: %w", err)
	}
	now := c.now()
	assertion, err := NewAssertion(cr, now)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"assertion":     {assertion},
		"grant_type":    {GrantTypeJWTBearer},
		"client_id":     {cr.ClientID},
		"client_secret": {cr.ClientSecret.Reveal()},
		"scope":         {scope},
	}
	resp, body, err := c.post(ctx, opToken, endpoint, form)
	if err != nil {
		return nil, err
	}
	if len(body) > maxResponseBytes {
		return nil, &Error{Op: opToken, StatusCode: resp.StatusCode,
			Err: fmt.Errorf("token response larger than %d KiB", maxResponseBytes>>10)}
	}
	tok, err := parseTokenResponse(body, now, scope)
	if err != nil {
		return nil, &Error{Op: opToken, StatusCode: resp.StatusCode, Err: err}
	}
	return tok, nil
}

// Revoke revokes token (an access or a refresh token) at LINE WORKS. hint is
// "access_token", "refresh_token" or "" (none sent). Only ClientID and ClientSecret of cr
// are used. Any 2xx answer is success.
//
// It returns a plain error for invalid arguments and an *Error (Op "revoke") for every
// failure after that, classified as for Token.
func (c *Client) Revoke(ctx context.Context, cr Credentials, token secret.Value, hint string) error {
	switch {
	case cr.ClientID == "":
		return errors.New("lwauth: revoke: missing client id")
	case cr.ClientSecret.IsZero():
		return errors.New("lwauth: revoke: missing client secret")
	case token.IsZero():
		return errors.New("lwauth: revoke: missing token")
	case hint != "" && hint != "access_token" && hint != "refresh_token":
		return fmt.Errorf("lwauth: revoke: token type hint %q is not access_token or refresh_token", clean(hint, 40))
	}
	endpoint, err := c.endpoint("revoke")
	if err != nil {
		return fmt.Errorf("lwauth: revoke: %w", err)
	}
	form := url.Values{
		"client_id":     {cr.ClientID},
		"client_secret": {cr.ClientSecret.Reveal()},
		"token":         {token.Reveal()},
	}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	_, _, err = c.post(ctx, opRevoke, endpoint, form)
	return err
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// endpoint returns AuthURL (or DefaultAuthURL) joined with name.
func (c *Client) endpoint(name string) (string, error) {
	base := c.AuthURL
	if base == "" {
		base = DefaultAuthURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		// The URL is not quoted: it might carry user info.
		return "", errors.New("invalid auth url: want an absolute http or https url without query or user info")
	}
	return strings.TrimRight(base, "/") + "/" + name, nil
}

// post sends form and reads at most maxResponseBytes+1 bytes of the answer. It returns
// an *Error for a transport failure and for a non-2xx status, a plain error when the
// request cannot be built (a nil ctx); otherwise the response (body closed) and the body.
func (c *Client) post(ctx context.Context, op, endpoint string, form url.Values) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, fmt.Errorf("lwauth: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error names the method and URL (password stripped), never the body.
		return nil, nil, &Error{Op: op, Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, nil, &Error{Op: op, Retryable: true, Err: fmt.Errorf("reading %d answer: %w", resp.StatusCode, err)}
	}
	if resp.StatusCode/100 == 2 {
		return resp, body, nil
	}
	e := &Error{
		Op:         op,
		StatusCode: resp.StatusCode,
		Body:       capBody(body),
		Retryable:  retryableStatus(resp.StatusCode),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()),
	}
	e.Code, e.Description = parseErrorBody(body)
	if resp.StatusCode/100 == 3 {
		e.Err = errors.New("unexpected redirect; check the auth url")
	}
	return resp, body, e
}

// capBody returns body as valid UTF-8 of at most maxErrorBody bytes.
func capBody(body []byte) string {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	return strings.ToValidUTF8(string(body), "\uFFFD")
}

// parseErrorBody reads an error answer in either style: RFC 6749 {"error",
// "error_description"} or LINE WORKS {"code","description"}. It returns empty strings
// for anything else.
func parseErrorBody(body []byte) (code, description string) {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return "", ""
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	return clean(str("error", "code"), 64), clean(str("error_description", "description"), 256)
}

// parseTokenResponse reads a 2xx token answer. issuedAt is when the request was sent;
// requested is the canonical scope asked for, used when the answer names none. Its
// errors never quote the body, which may hold a token.
func parseTokenResponse(body []byte, issuedAt time.Time, requested string) (*Token, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
		return nil, errors.New("token response is not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, errors.New("token response is not a JSON object")
	}
	access, err := stringField(m, "access_token")
	if err != nil {
		return nil, err
	}
	if access == "" {
		return nil, errors.New("token response has no access_token")
	}
	// Never quoted: it is the secret. Checked here, where it enters, so that a token with CR,
	// LF, NUL, ESC or a space is never cached, stored, served or printed.
	if !wire.ValidAccessToken(access) {
		return nil, fmt.Errorf("token response: access_token (%d bytes) is not a valid bearer token (token68 characters only)", len(access))
	}
	refresh, err := stringField(m, "refresh_token")
	if err != nil {
		return nil, err
	}
	tokenType, err := stringField(m, "token_type")
	if err != nil {
		return nil, err
	}
	if tokenType == "" {
		tokenType = "Bearer"
	}
	if !strings.EqualFold(tokenType, "bearer") {
		return nil, fmt.Errorf("token response: token_type %q is not bearer", clean(tokenType, 40))
	}
	scope, err := stringField(m, "scope")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(scope) == "" {
		scope = requested
	}
	if extra := notIn(ParseScopes(scope), ParseScopes(requested)); len(extra) > 0 {
		return nil, fmt.Errorf("token response grants scopes that were not asked for (%s): refusing a token wider than requested",
			clean(strings.Join(extra, " "), 200))
	}
	expiresIn, err := parseExpiresIn(m["expires_in"])
	if err != nil {
		return nil, err
	}
	return &Token{
		AccessToken:  secret.New(access),
		RefreshToken: secret.New(refresh),
		TokenType:    tokenType,
		Scope:        ParseScopes(scope),
		ExpiresIn:    expiresIn,
		IssuedAt:     issuedAt,
		Expiry:       issuedAt.Add(expiresIn),
	}, nil
}

// stringField returns m[key] as a string; "" when absent or null.
func stringField(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok {
		return "", nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "", fmt.Errorf("token response: %s is malformed", key)
	}
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("token response: %s is not a string", key)
	}
}

// parseExpiresIn reads expires_in, a JSON string ("86400", what LINE WORKS sends) or a
// JSON number, of whole seconds. It must be present and positive; more than MaxLifetime is
// clamped to it.
func parseExpiresIn(raw json.RawMessage) (time.Duration, error) {
	if raw == nil || string(raw) == "null" {
		return 0, errors.New("token response has no expires_in")
	}
	text := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			return 0, errors.New("token response: expires_in is malformed")
		}
		text = strings.TrimSpace(text)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, errors.New("token response: expires_in is not a whole number of seconds")
	}
	if n <= 0 {
		return 0, fmt.Errorf("token response: expires_in is %d, not positive", n)
	}
	if n > int64(maxExpiresIn/time.Second) {
		return 0, fmt.Errorf("token response: expires_in %d is implausibly large", n)
	}
	return min(time.Duration(n)*time.Second, MaxLifetime), nil
}

// notIn returns the elements of granted that are not in asked.
func notIn(granted, asked []string) []string {
	var out []string
	for _, g := range granted {
		if !slices.Contains(asked, g) {
			out = append(out, g)
		}
	}
	return out
}
