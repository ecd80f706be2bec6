package lwauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

func TestTokenSuccess(t *testing.T) {
	tests := []struct {
		name     string
		number   bool          // expires_in as a JSON number
		lifetime time.Duration // the app's token lifetime
		slash    bool          // AuthURL with a trailing slash
	}{
		{"string 24h", false, 24 * time.Hour, false},
		{"number 24h", true, 24 * time.Hour, false},
		{"string 1h", false, time.Hour, false},
		{"number 1h trailing slash", true, time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFake(t)
			srv.SetExpiresInNumber(tt.number)
			srv.SetLifetime(tt.lifetime)
			if tt.slash {
				c.AuthURL += "/"
			}
			tok, err := c.Token(t.Context(), testCreds(), []string{"user.read", "bot", "bot"})
			if err != nil {
				t.Fatalf("Token: %v (fake: %s)", err, srv.LastError())
			}
			if !srv.Valid(tok.AccessToken.Reveal()) {
				t.Error("the fake does not consider the token valid")
			}
			if len(tok.AccessToken.Reveal()) < 43 || tok.RefreshToken.IsZero() {
				t.Errorf("access token %d bytes, refresh token zero %v", tok.AccessToken.Len(), tok.RefreshToken.IsZero())
			}
			if tok.TokenType != "Bearer" {
				t.Errorf("TokenType = %q", tok.TokenType)
			}
			if want := []string{"bot", "user.read"}; !slices.Equal(tok.Scope, want) {
				t.Errorf("Scope = %q, want %q", tok.Scope, want)
			}
			if tok.ExpiresIn != tt.lifetime || !tok.IssuedAt.Equal(t0) || !tok.Expiry.Equal(t0.Add(tt.lifetime)) {
				t.Errorf("ExpiresIn %v IssuedAt %v Expiry %v", tok.ExpiresIn, tok.IssuedAt, tok.Expiry)
			}
			if srv.TokenRequests() != 1 || srv.Issued() != 1 {
				t.Errorf("fake counted %d requests, %d issued", srv.TokenRequests(), srv.Issued())
			}
		})
	}
}

// TestTokenRejected covers the fake's 400/401 answers in both error-body styles.
func TestTokenRejected(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Credentials, *Client)
		scopes []string
		status int
		code   string
	}{
		{"wrong secret", func(cr *Credentials, _ *Client) { cr.ClientSecret = secret.New("wrong") }, nil, 401, "invalid_client"},
		{"unknown client", func(cr *Credentials, _ *Client) { cr.ClientID = "nobody" }, nil, 401, "invalid_client"},
		{"wrong key", func(cr *Credentials, _ *Client) { cr.PrivateKey = testkey.Other() }, nil, 400, "invalid_grant"},
		{"wrong service account", func(cr *Credentials, _ *Client) { cr.ServiceAccount = "x.serviceaccount@example.com" }, nil, 400, "invalid_grant"},
		{"client clock an hour slow", func(_ *Credentials, c *Client) {
			c.Now = func() time.Time { return t0.Add(-time.Hour) }
		}, nil, 400, "invalid_grant"},
		{"scope not configured", nil, []string{"bot", "calendar"}, 400, "invalid_scope"},
	}
	for _, style := range []lwfake.ErrorStyle{lwfake.ErrorStyleOAuth, lwfake.ErrorStyleLineWorks} {
		for _, tt := range tests {
			t.Run(string(style)+"/"+tt.name, func(t *testing.T) {
				srv, c := newFake(t)
				srv.SetErrorStyle(style)
				cr := testCreds()
				if tt.change != nil {
					tt.change(&cr, c)
				}
				scopes := tt.scopes
				if scopes == nil {
					scopes = []string{"bot"}
				}
				_, err := c.Token(t.Context(), cr, scopes)
				e := asError(t, err)
				want := tt.code
				if style == "lineworks" {
					want = strings.ToUpper(want)
				}
				if e.Op != "token request" || e.StatusCode != tt.status || e.Code != want || e.Description == "" {
					t.Errorf("got op %q status %d code %q description %q; want %d %q",
						e.Op, e.StatusCode, e.Code, e.Description, tt.status, want)
				}
				if e.Retryable || IsRetryable(err) {
					t.Error("a 400/401 must not be retryable")
				}
				if !strings.Contains(e.Body, want) {
					t.Errorf("Body %q does not hold the code", e.Body)
				}
				prefix := fmt.Sprintf("lwauth: token request: %d %s: ", tt.status, want)
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("Error() = %q, want prefix %q", err, prefix)
				}
			})
		}
	}
}

func TestTokenInjectedFailures(t *testing.T) {
	tests := []struct {
		name       string
		f          lwfake.Failure
		retryable  bool
		retryAfter time.Duration
	}{
		{"500", lwfake.Failure{Status: 500}, true, 0},
		{"502", lwfake.Failure{Status: 502}, true, 0},
		{"503 retry-after seconds", lwfake.Failure{Status: 503, RetryAfter: "7"}, true, 7 * time.Second},
		{"429 retry-after seconds", lwfake.Failure{Status: 429, RetryAfter: "120"}, true, 2 * time.Minute},
		{"429 retry-after date", lwfake.Failure{Status: 429, RetryAfter: t0.Add(30 * time.Second).Format(http.TimeFormat)}, true, 30 * time.Second},
		{"429 retry-after past date", lwfake.Failure{Status: 429, RetryAfter: t0.Add(-time.Minute).Format(http.TimeFormat)}, true, 0},
		{"429 retry-after garbage", lwfake.Failure{Status: 429, RetryAfter: "soon"}, true, 0},
		{"429 retry-after huge", lwfake.Failure{Status: 429, RetryAfter: "99999999999"}, true, 24 * time.Hour},
		{"408", lwfake.Failure{Status: 408}, true, 0},
		{"400", lwfake.Failure{Status: 400, Code: "invalid_request"}, false, 0},
		{"401", lwfake.Failure{Status: 401, Code: "invalid_client"}, false, 0},
		{"403", lwfake.Failure{Status: 403, Code: "access_denied"}, false, 0},
		{"404", lwfake.Failure{Status: 404}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFake(t)
			srv.FailNext(1, tt.f)
			_, err := c.Token(t.Context(), testCreds(), []string{"bot"})
			e := asError(t, err)
			if e.StatusCode != tt.f.Status || e.Retryable != tt.retryable || IsRetryable(err) != tt.retryable {
				t.Errorf("status %d retryable %v; want %d %v", e.StatusCode, e.Retryable, tt.f.Status, tt.retryable)
			}
			if got := RetryAfterOf(err); got != tt.retryAfter {
				t.Errorf("RetryAfterOf = %v, want %v", got, tt.retryAfter)
			}
			if e.Code == "" {
				t.Error("no code parsed from the injected failure's body")
			}
			// The failure was for one request only.
			if _, err := c.Token(t.Context(), testCreds(), []string{"bot"}); err != nil {
				t.Fatalf("second Token: %v", err)
			}
		})
	}
}

func TestTokenNoAnswer(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*lwfake.Server)
		timeout time.Duration
		isCtx   bool // the error wraps context.DeadlineExceeded
	}{
		{"closed server", func(s *lwfake.Server) { s.Close() }, 0, false},
		{"dropped connection", func(s *lwfake.Server) { s.FailNext(1, lwfake.Failure{Drop: true}) }, 0, false},
		{"hang until deadline", func(s *lwfake.Server) { s.FailNext(-1, lwfake.Failure{Hang: true}) }, 100 * time.Millisecond, true},
		{"delay past deadline", func(s *lwfake.Server) { s.SetDelay(time.Minute) }, 100 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFake(t)
			tt.setup(srv)
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := c.Token(ctx, testCreds(), []string{"bot"})
			e := asError(t, err)
			if e.StatusCode != 0 || !e.Retryable || !IsRetryable(err) || e.Err == nil {
				t.Errorf("status %d retryable %v err %v; want 0, retryable, an underlying error", e.StatusCode, e.Retryable, e.Err)
			}
			if got := errors.Is(err, context.DeadlineExceeded); got != tt.isCtx {
				t.Errorf("errors.Is(err, DeadlineExceeded) = %v, want %v (%v)", got, tt.isCtx, err)
			}
			if !strings.HasPrefix(err.Error(), "lwauth: token request: ") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

// TestTokenBadSuccessBody covers 2xx answers that are not a usable token.
func TestTokenBadSuccessBody(t *testing.T) {
	const access = "ACCESS-TOKEN-VALUE-0123456789"
	tests := []struct {
		name, body, want string
	}{
		{"not json", "<html>login</html>", "not a JSON object"},
		{"json array", `["x"]`, "not a JSON object"},
		{"truncated", `{"access_token":"` + access + `","expires_in":"86`, "not a JSON object"},
		{"no access token", `{"token_type":"Bearer","expires_in":"86400"}`, "no access_token"},
		{"access token not a string", `{"access_token":12345,"expires_in":"86400"}`, "access_token is not a string"},
		{"no expires_in", `{"access_token":"` + access + `"}`, "no expires_in"},
		{"zero expires_in", `{"access_token":"` + access + `","expires_in":"0"}`, "not positive"},
		{"negative expires_in", `{"access_token":"` + access + `","expires_in":-5}`, "not positive"},
		{"float expires_in", `{"access_token":"` + access + `","expires_in":3600.5}`, "not a whole number"},
		{"word expires_in", `{"access_token":"` + access + `","expires_in":"soon"}`, "not a whole number"},
		{"huge expires_in", `{"access_token":"` + access + `","expires_in":"9999999999999"}`, "implausibly large"},
		// Issue 12, item 4: what would inject a header line, a terminal escape or a shell word.
		{"CR LF in access token", `{"access_token":"` + access + `\r\nX-Injected: 1","expires_in":"86400"}`, "not a valid bearer token"},
		{"LF in access token", `{"access_token":"` + access + `\n","expires_in":"86400"}`, "not a valid bearer token"},
		{"ESC in access token", `{"access_token":"\u001b[2J` + access + `","expires_in":"86400"}`, "not a valid bearer token"},
		{"NUL in access token", `{"access_token":"` + access + `\u0000","expires_in":"86400"}`, "not a valid bearer token"},
		{"space in access token", `{"access_token":"` + access + ` x","expires_in":"86400"}`, "not a valid bearer token"},
		{"quote in access token", `{"access_token":"` + access + `'x","expires_in":"86400"}`, "not a valid bearer token"},
		{"non-ASCII access token", `{"access_token":"` + access + `é","expires_in":"86400"}`, "not a valid bearer token"},
		{"token type not bearer", `{"access_token":"` + access + `","token_type":"mac\r\nX: 1","expires_in":"86400"}`, "is not bearer"},
		{"scope wider than asked", `{"access_token":"` + access + `","scope":"bot admin","expires_in":"86400"}`, "not asked for (admin)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cannedServer(t, 200, nil, tt.body)
			_, err := c.Token(t.Context(), testCreds(), []string{"bot"})
			e := asError(t, err)
			if e.StatusCode != 200 || e.Retryable || e.Body != "" {
				t.Errorf("status %d retryable %v body %q; want 200, not retryable, no body", e.StatusCode, e.Retryable, e.Body)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Error() = %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), access) {
				t.Errorf("Error() = %q leaks the access token", err)
			}
		})
	}
}

func TestTokenResponseTolerance(t *testing.T) {
	tests := []struct {
		name, body string
		expiresIn  time.Duration
		scope      []string
		tokenType  string
	}{
		{"comma scope", `{"access_token":"a","expires_in":"3600","scope":"directory.read,bot","token_type":"Bearer"}`,
			time.Hour, []string{"bot", "directory.read"}, "Bearer"},
		{"narrower scope", `{"access_token":"a","expires_in":"3600","scope":"bot"}`,
			time.Hour, []string{"bot"}, "Bearer"},
		{"48 h clamped to 24 h", `{"access_token":"a","expires_in":"172800"}`,
			24 * time.Hour, []string{"bot", "directory.read"}, "Bearer"},
		{"ten years clamped to 24 h", `{"access_token":"a","expires_in":315360000}`,
			24 * time.Hour, []string{"bot", "directory.read"}, "Bearer"},
		{"no scope: the requested", `{"access_token":"a","expires_in":3600}`,
			time.Hour, []string{"bot", "directory.read"}, "Bearer"},
		{"spaced string", `{"access_token":"a","expires_in":" 60 ","token_type":"bearer","refresh_token":null}`,
			time.Minute, []string{"bot", "directory.read"}, "bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cannedServer(t, 200, nil, tt.body)
			tok, err := c.Token(t.Context(), testCreds(), []string{"directory.read", "bot"})
			if err != nil {
				t.Fatal(err)
			}
			if tok.ExpiresIn != tt.expiresIn || !slices.Equal(tok.Scope, tt.scope) || tok.TokenType != tt.tokenType {
				t.Errorf("got %v %q %q", tok.ExpiresIn, tok.Scope, tok.TokenType)
			}
		})
	}
}

// TestOversizedBody checks that at most 64 KiB of an answer is read.
func TestOversizedBody(t *testing.T) {
	const total = 64 << 20
	var written atomic.Int64
	done := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"access_token":"`))
		chunk := []byte(strings.Repeat("a", 32<<10))
		for written.Load() < total {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer ts.Close()
	c := &Client{AuthURL: ts.URL, Now: pinned}
	_, err := c.Token(t.Context(), testCreds(), []string{"bot"})
	e := asError(t, err)
	if e.StatusCode != 200 || e.Retryable || !strings.Contains(err.Error(), "larger than 64 KiB") {
		t.Errorf("got %v (status %d retryable %v)", err, e.StatusCode, e.Retryable)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server is still writing: the client did not stop reading")
	}
	if n := written.Load(); n >= total {
		t.Errorf("server wrote all %d bytes", n)
	}

	// An oversized error body is kept capped.
	c = cannedServer(t, 503, nil, `{"code":"SERVICE_UNAVAILABLE","description":"`+strings.Repeat("x", 1<<20)+`"}`)
	_, err = c.Token(t.Context(), testCreds(), []string{"bot"})
	e = asError(t, err)
	if len(e.Body) != 1024 || !e.Retryable || e.Code != "" {
		// The body was cut at 64 KiB, so it is not valid JSON and yields no code.
		t.Errorf("body %d bytes, retryable %v, code %q", len(e.Body), e.Retryable, e.Code)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	c := cannedServer(t, 302, map[string]string{"Location": "https://example.com/login"}, "")
	_, err := c.Token(t.Context(), testCreds(), []string{"bot"})
	e := asError(t, err)
	if e.StatusCode != 302 || e.Retryable || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("got %v (status %d retryable %v)", err, e.StatusCode, e.Retryable)
	}
}

// recorder is a RoundTripper that records requests and answers from a function.
type recorder struct {
	reqs   []*http.Request
	forms  []url.Values
	answer func(*http.Request) *http.Response
}

func (rt *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	rt.reqs = append(rt.reqs, r)
	rt.forms = append(rt.forms, form)
	return rt.answer(r), nil
}

func answer(status int, body string) func(*http.Request) *http.Response {
	return func(r *http.Request) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}
	}
}

// TestRequestShape checks what goes on the wire, including the default AuthURL.
func TestRequestShape(t *testing.T) {
	rt := &recorder{answer: answer(200, `{"access_token":"tok","expires_in":"86400"}`)}
	c := &Client{HTTPClient: &http.Client{Transport: rt}, Now: pinned}
	if _, err := c.Token(t.Context(), testCreds(), []string{"user.read", "bot", "bot,directory.read"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(t.Context(), testCreds(), secret.New("tok"), "access_token"); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(t.Context(), testCreds(), secret.New("rt"), ""); err != nil {
		t.Fatal(err)
	}
	wantURL := []string{DefaultAuthURL + "/token", DefaultAuthURL + "/revoke", DefaultAuthURL + "/revoke"}
	for i, r := range rt.reqs {
		if r.Method != "POST" || r.URL.String() != wantURL[i] {
			t.Errorf("request %d: %s %s, want POST %s", i, r.Method, r.URL, wantURL[i])
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("request %d: Content-Type %q", i, ct)
		}
		if a := r.Header.Get("Authorization"); a != "" {
			t.Errorf("request %d: Authorization header %q", i, a)
		}
	}

	f := rt.forms[0]
	if keys, want := slices.Sorted(maps.Keys(f)), []string{"assertion", "client_id", "client_secret", "grant_type", "scope"}; !slices.Equal(keys, want) {
		t.Errorf("token form fields %q, want %q", keys, want)
	}
	if f.Get("grant_type") != GrantTypeJWTBearer || f.Get("client_id") != testClientID ||
		f.Get("client_secret") != testSecret || f.Get("scope") != "bot directory.read user.read" {
		t.Errorf("token form %v", f)
	}
	if _, err := jwt.Parse(f.Get("assertion"), func(*jwt.Token) (any, error) { return &testkey.App().PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(pinned)); err != nil {
		t.Errorf("assertion does not verify: %v", err)
	}

	want := url.Values{"client_id": {testClientID}, "client_secret": {testSecret}, "token": {"tok"}, "token_type_hint": {"access_token"}}
	if got := rt.forms[1]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("revoke form %v, want %v", got, want)
	}
	if got := rt.forms[2]; got.Has("token_type_hint") || got.Get("token") != "rt" {
		t.Errorf("revoke form without hint: %v", got)
	}
}

func TestRevoke(t *testing.T) {
	srv, c := newFake(t)
	tok, err := c.Token(t.Context(), testCreds(), []string{"bot"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(t.Context(), testCreds(), tok.AccessToken, "access_token"); err != nil {
		t.Fatal(err)
	}
	if srv.Valid(tok.AccessToken.Reveal()) || srv.RevokeRequests() != 1 {
		t.Errorf("after revoke: valid %v, %d revoke requests", srv.Valid(tok.AccessToken.Reveal()), srv.RevokeRequests())
	}
	if err := c.Revoke(t.Context(), testCreds(), tok.RefreshToken, "refresh_token"); err != nil {
		t.Fatal(err)
	}

	cr := testCreds()
	cr.ClientSecret = secret.New("wrong")
	err = c.Revoke(t.Context(), cr, tok.AccessToken, "")
	e := asError(t, err)
	if e.Op != "revoke" || e.StatusCode != 401 || e.Code != "invalid_client" || e.Retryable {
		t.Errorf("wrong secret: %v (retryable %v)", err, e.Retryable)
	}
	if !strings.HasPrefix(err.Error(), "lwauth: revoke: 401 invalid_client") {
		t.Errorf("Error() = %q", err)
	}

	srv.Close()
	err = c.Revoke(t.Context(), testCreds(), tok.AccessToken, "")
	if e := asError(t, err); e.StatusCode != 0 || !e.Retryable {
		t.Errorf("closed server: %v", err)
	}
}

func TestArgumentErrors(t *testing.T) {
	c := &Client{AuthURL: "http://127.0.0.1:1/oauth2/v2.0", Now: pinned}
	without := func(f func(*Credentials)) Credentials {
		cr := testCreds()
		f(&cr)
		return cr
	}
	tests := []struct {
		name string
		c    *Client
		call func(*Client) error
		want string
	}{
		{"no client id", c, func(c *Client) error {
			_, err := c.Token(t.Context(), without(func(cr *Credentials) { cr.ClientID = "" }), []string{"bot"})
			return err
		}, "lwauth: token request: missing client id"},
		{"no service account", c, func(c *Client) error {
			_, err := c.Token(t.Context(), without(func(cr *Credentials) { cr.ServiceAccount = "" }), []string{"bot"})
			return err
		}, "lwauth: token request: missing service account"},
		{"no secret", c, func(c *Client) error {
			_, err := c.Token(t.Context(), without(func(cr *Credentials) { cr.ClientSecret = secret.Value{} }), []string{"bot"})
			return err
		}, "lwauth: token request: missing client secret"},
		{"no key", c, func(c *Client) error {
			_, err := c.Token(t.Context(), without(func(cr *Credentials) { cr.PrivateKey = nil }), []string{"bot"})
			return err
		}, "lwauth: token request: missing private key"},
		{"no scope", c, func(c *Client) error {
			_, err := c.Token(t.Context(), testCreds(), []string{" ", ","})
			return err
		}, "lwauth: token request: no scope requested"},
		{"bad auth url", &Client{AuthURL: "ftp://x/y"}, func(c *Client) error {
			_, err := c.Token(t.Context(), testCreds(), []string{"bot"})
			return err
		}, "lwauth: token request: invalid auth url"},
		{"auth url with user info", &Client{AuthURL: "https://u:" + testSecret + "@x/y"}, func(c *Client) error {
			_, err := c.Token(t.Context(), testCreds(), []string{"bot"})
			return err
		}, "lwauth: token request: invalid auth url"},
		{"revoke no token", c, func(c *Client) error {
			return c.Revoke(t.Context(), testCreds(), secret.Value{}, "")
		}, "lwauth: revoke: missing token"},
		{"revoke bad hint", c, func(c *Client) error {
			return c.Revoke(t.Context(), testCreds(), secret.New("x"), "id_token")
		}, "lwauth: revoke: token type hint"},
		{"revoke no secret", c, func(c *Client) error {
			return c.Revoke(t.Context(), without(func(cr *Credentials) { cr.ClientSecret = secret.Value{} }), secret.New("x"), "")
		}, "lwauth: revoke: missing client secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(tt.c)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want prefix %q", err, tt.want)
			}
			var e *Error
			if errors.As(err, &e) || IsRetryable(err) {
				t.Errorf("argument error %v is an *Error or retryable", err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

// TestErrorsHoldNoSecret collects errors from many failure modes and checks that no
// rendering of them holds the client secret, an assertion or a token.
func TestErrorsHoldNoSecret(t *testing.T) {
	const access = "ACCESS-8f7e6d5c4b3a"
	var errs []error
	collect := func(_ any, err error) { errs = append(errs, err) }

	srv, c := newFake(t)
	for _, f := range []lwfake.Failure{{Status: 500}, {Status: 429, RetryAfter: "3"}, {Drop: true}} {
		srv.FailNext(1, f)
		collect(c.Token(t.Context(), testCreds(), []string{"bot"}))
	}
	bad := testCreds()
	bad.PrivateKey = testkey.Other()
	collect(c.Token(t.Context(), bad, []string{"bot"}))
	collect(nil, c.Revoke(t.Context(), Credentials{ClientID: testClientID, ClientSecret: secret.New("x" + testSecret)}, secret.New(access), ""))
	collect(cannedServer(t, 200, nil, `{"access_token":"`+access+`"}`).Token(t.Context(), testCreds(), []string{"bot"}))
	collect(cannedServer(t, 200, nil, `{"access_token":"`+access+`","expires_in":"x`).Token(t.Context(), testCreds(), []string{"bot"}))
	collect(cannedServer(t, 200, nil, `{"access_token":"`+access+`","expires_in":-1}`).Token(t.Context(), testCreds(), []string{"bot"}))
	srv.Close()
	collect(c.Token(t.Context(), testCreds(), []string{"bot"}))

	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v %s", err, err, err, err)} {
			for _, leak := range []string{testSecret, access, "eyJ"} {
				if strings.Contains(s, leak) {
					t.Errorf("error %q contains %q", s, leak)
				}
			}
		}
	}
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("x"), false},
		{"deadline", context.DeadlineExceeded, true},
		{"canceled wrapped", fmt.Errorf("x: %w", context.Canceled), true},
		{"net error", &net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{"retryable *Error wrapped", fmt.Errorf("renew: %w", &Error{Op: "token request", StatusCode: 503, Retryable: true}), true},
		{"final *Error", &Error{Op: "token request", StatusCode: 401}, false},
		{"final *Error wrapping a net error", &Error{Op: "token request", Err: &net.OpError{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryable(tt.err); got != tt.want {
				t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if got := RetryAfterOf(fmt.Errorf("x: %w", &Error{RetryAfter: time.Second})); got != time.Second {
		t.Errorf("RetryAfterOf = %v", got)
	}
	if got := RetryAfterOf(errors.New("x")); got != 0 {
		t.Errorf("RetryAfterOf(plain) = %v", got)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Op: "token request", StatusCode: 401, Code: "invalid_client", Description: "client authentication failed"},
			"lwauth: token request: 401 invalid_client: client authentication failed"},
		{Error{Op: "token request", StatusCode: 400, Code: "INVALID_SCOPE"}, "lwauth: token request: 400 INVALID_SCOPE"},
		{Error{Op: "revoke", StatusCode: 502}, "lwauth: revoke: 502 bad gateway"},
		{Error{Op: "token request", StatusCode: 503, Description: "down"}, "lwauth: token request: 503: down"},
		{Error{Op: "token request", StatusCode: 200, Err: errors.New("token response has no access_token")},
			"lwauth: token request: 200: token response has no access_token"},
		{Error{Op: "token request", Err: errors.New("dial tcp: connection refused")},
			"lwauth: token request: dial tcp: connection refused"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	inner := errors.New("inner")
	if e := (&Error{Err: inner}); !errors.Is(e, inner) {
		t.Error("Unwrap does not reach the underlying error")
	}
}

func TestParseErrorBodySanitizes(t *testing.T) {
	code, desc := parseErrorBody([]byte(`{"error":"bad\ncode","error_description":"line1\r\nline2` + strings.Repeat("x", 500) + `"}`))
	if strings.ContainsAny(code+desc, "\r\n") || len(desc) > 256+len("…") {
		t.Errorf("code %q desc %q (%d bytes)", code, desc, len(desc))
	}
	if code, desc := parseErrorBody([]byte(`{"error":{"x":1},"code":"C","description":7}`)); code != "C" || desc != "" {
		t.Errorf("mixed types: %q %q", code, desc)
	}
}

func TestCredentialsDoNotPrint(t *testing.T) {
	cr := testCreds()
	d := cr.PrivateKey.D.String()[:20]
	for _, s := range []string{
		fmt.Sprint(cr), fmt.Sprintf("%v %+v %#v %s %d %x", cr, cr, cr, cr, cr, cr), cr.String(),
		fmt.Sprintf("%+v", &cr), fmt.Sprintf("%+v", struct{ C Credentials }{cr}),
	} {
		if strings.Contains(s, testSecret) || strings.Contains(s, d) || !strings.Contains(s, testClientID) {
			t.Errorf("Credentials printed as %q", s)
		}
	}
	b, err := cr.MarshalJSON()
	if err != nil || strings.Contains(string(b), testSecret) || !strings.Contains(string(b), testServiceAccount) {
		t.Errorf("MarshalJSON = %s, %v", b, err)
	}
}
