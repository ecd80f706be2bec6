package lwfake

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
)

const (
	clientID       = "client-abc"
	clientSecret   = "s3cr3t-CLIENT-value-42"
	serviceAccount = "abcde.serviceaccount@example.com"
	otherClientID  = "client-other"
	otherSecret    = "other-secret"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// clock is a settable clock for the fake.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTestServer starts the fake with two apps, on a clock pinned at t0.
func newTestServer(t *testing.T) (*Server, *clock) {
	t.Helper()
	s := NewServer(t,
		App{ClientID: clientID, ClientSecret: clientSecret, ServiceAccount: serviceAccount,
			PublicKey: &testkey.App().PublicKey, Scopes: []string{"bot", "user.read,directory.read"}},
		App{ClientID: otherClientID, ClientSecret: otherSecret, ServiceAccount: "other.serviceaccount@example.com",
			PublicKey: &testkey.Other().PublicKey, Scopes: []string{"bot"}},
	)
	c := &clock{now: t0}
	s.SetNow(c.Now)
	return s, c
}

const goodHeader = `{"alg":"RS256","typ":"JWT"}`

func claims(iss, sub string, iat, exp int64) string {
	return fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d,"exp":%d}`, iss, sub, iat, exp)
}

func goodClaims() string { return claims(clientID, serviceAccount, t0.Unix()-10, t0.Unix()+600) }

// sign builds a JWT from raw header and claims JSON, RS256-signed with key, each
// segment encoded with enc.
func sign(key *rsa.PrivateKey, header, claims string, enc *base64.Encoding) string {
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		panic(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

func goodForm(assertion string) url.Values {
	return url.Values{
		"assertion":     {assertion},
		"grant_type":    {GrantTypeJWTBearer},
		"client_id":     {clientID},
		"client_secret": {clientSecret},
		"scope":         {"bot user.read"},
	}
}

// request is one hand-built HTTP request to the fake.
type request struct {
	method, path, contentType, authorization string
	body                                     string
}

func formRequest(path string, form url.Values) request {
	return request{method: "POST", path: path, contentType: "application/x-www-form-urlencoded", body: form.Encode()}
}

func (r request) do(t *testing.T, s *Server) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), r.method, s.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.authorization != "" {
		req.Header.Set("Authorization", r.authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("body %q is not a JSON object: %v", b, err)
		}
	}
	return resp.StatusCode, resp.Header, m
}

// TestTokenChecks sends one hand-built bad (or borderline good) request per check.
func TestTokenChecks(t *testing.T) {
	now := t0.Unix()
	tokenPath := AuthPath + "/token"
	withForm := func(f func(url.Values)) request {
		form := goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))
		f(form)
		return formRequest(tokenPath, form)
	}
	withAssertion := func(a string) request {
		return withForm(func(f url.Values) { f.Set("assertion", a) })
	}
	withClaims := func(c string) request {
		return withAssertion(sign(testkey.App(), goodHeader, c, base64.RawURLEncoding))
	}
	withHeader := func(h string) request {
		return withAssertion(sign(testkey.App(), h, goodClaims(), base64.RawURLEncoding))
	}
	hs256 := func() string {
		enc := base64.RawURLEncoding
		signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(goodClaims()))
		mac := hmac.New(sha256.New, []byte(clientSecret))
		mac.Write([]byte(signing))
		return signing + "." + enc.EncodeToString(mac.Sum(nil))
	}
	algNone := func() string {
		enc := base64.RawURLEncoding
		return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(goodClaims())) + "."
	}
	// stdBase64 re-signs until standard base64 differs from base64url (it almost always does).
	stdBase64 := func() string {
		for i := int64(0); ; i++ {
			a := sign(testkey.App(), goodHeader, claims(clientID, serviceAccount, now-10-i, now+600), base64.RawStdEncoding)
			if strings.ContainsAny(a, "+/") {
				return a
			}
		}
	}

	tests := []struct {
		name   string
		req    request
		status int
		code   string
		reason string // substring of LastError
	}{
		{"success", withForm(func(url.Values) {}), 200, "", ""},
		{"comma-separated scopes accepted", withForm(func(f url.Values) { f.Set("scope", "bot,user.read") }), 200, "", ""},
		{"exp - iat exactly 3600", withClaims(claims(clientID, serviceAccount, now-100, now+3500)), 200, "", ""},
		{"iat 5 s in the future", withClaims(claims(clientID, serviceAccount, now+5, now+600)), 200, "", ""},
		{"exp is now", withClaims(claims(clientID, serviceAccount, now-600, now)), 200, "", ""},
		// RFC 7519 NumericDates are JSON numbers, fractions allowed (see samples_test.go).
		{"fractional iat and exp", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d.123,"exp":%d.123}`, clientID, serviceAccount, now-10, now+3590)), 200, "", ""},
		{"exp with a zero fraction", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d,"exp":%d.0}`, clientID, serviceAccount, now-10, now+600)), 200, "", ""},
		{"exp with exponent", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d,"exp":%de0}`, clientID, serviceAccount, now-10, now+600)), 200, "", ""},
		// Third-party clients add aud (the token URL), jti or scope claims; only iss, sub,
		// iat and exp are read, so the extras are ignored, not refused.
		{"extra claims ignored", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":"https://auth.worksmobile.com/oauth2/v2.0/token","jti":"x1","scope":"bot","iat":%d,"exp":%d}`, clientID, serviceAccount, now-10, now+600)), 200, "", ""},
		{"kid in the header ignored", withHeader(`{"alg":"RS256","typ":"JWT","kid":"k1"}`), 200, "", ""},
		{"grant type percent-encoded twice", withForm(func(f url.Values) { f.Set("grant_type", url.QueryEscape(GrantTypeJWTBearer)) }), 200, "", ""},
		{"charset in content type", func() request {
			r := withForm(func(url.Values) {})
			r.contentType += "; charset=UTF-8"
			return r
		}(), 200, "", ""},

		{"GET method", request{method: "GET", path: tokenPath}, 400, "invalid_request", "method must be POST"},
		{"wrong content type", func() request {
			r := withForm(func(url.Values) {})
			r.contentType = "application/json"
			return r
		}(), 400, "invalid_request", "content type"},
		{"no content type", func() request {
			r := withForm(func(url.Values) {})
			r.contentType = ""
			return r
		}(), 400, "invalid_request", "content type"},
		{"basic auth header", func() request {
			r := withForm(func(url.Values) {})
			r.authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+clientSecret))
			return r
		}(), 401, "invalid_client", "Authorization header"},
		{"missing grant type", withForm(func(f url.Values) { f.Del("grant_type") }), 400, "invalid_request", "missing grant_type"},
		{"bad grant type", withForm(func(f url.Values) { f.Set("grant_type", "client_credentials") }), 400, "unsupported_grant_type", "client_credentials"},
		{"grant type percent-encoded three times", withForm(func(f url.Values) { f.Set("grant_type", url.QueryEscape(url.QueryEscape(GrantTypeJWTBearer))) }), 400, "unsupported_grant_type", "urn%253A"},
		{"other grant type percent-encoded", withForm(func(f url.Values) { f.Set("grant_type", "client%5Fcredentials") }), 400, "unsupported_grant_type", "client%5F"},
		{"repeated parameter", withForm(func(f url.Values) { f.Add("scope", "bot") }), 400, "invalid_request", "repeated"},
		{"missing client id", withForm(func(f url.Values) { f.Del("client_id") }), 401, "invalid_client", "missing client_id"},
		{"unknown client", withForm(func(f url.Values) { f.Set("client_id", "nobody") }), 401, "invalid_client", "unknown client_id"},
		{"wrong client secret", withForm(func(f url.Values) { f.Set("client_secret", clientSecret+"x") }), 401, "invalid_client", "authentication failed"},
		{"missing client secret", withForm(func(f url.Values) { f.Del("client_secret") }), 401, "invalid_client", "authentication failed"},
		{"missing assertion", withForm(func(f url.Values) { f.Del("assertion") }), 400, "invalid_request", "missing assertion"},

		{"two segments", withAssertion("abc.def"), 400, "invalid_grant", "three dot-separated segments"},
		{"padded base64", withAssertion(sign(testkey.App(), goodHeader, goodClaims(), base64.URLEncoding)), 400, "invalid_grant", "padded"},
		{"standard base64", withAssertion(stdBase64()), 400, "invalid_grant", "standard base64"},
		{"not base64", withAssertion("a*b.c.d"), 400, "invalid_grant", "not base64url"},
		{"header not json", withHeader(`alg=RS256`), 400, "invalid_grant", "header: not a JSON object"},
		{"alg HS256", withAssertion(hs256()), 400, "invalid_grant", "alg must be RS256"},
		{"alg none", withAssertion(algNone()), 400, "invalid_grant", "alg must be RS256"},
		{"alg RS512", withHeader(`{"alg":"RS512","typ":"JWT"}`), 400, "invalid_grant", "alg must be RS256"},
		{"missing typ", withHeader(`{"alg":"RS256"}`), 400, "invalid_grant", "typ must be JWT"},
		{"wrong key", withAssertion(sign(testkey.Other(), goodHeader, goodClaims(), base64.RawURLEncoding)), 400, "invalid_grant", "signature does not verify"},
		{"tampered claims", func() request {
			a := strings.Split(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding), ".")
			a[1] = base64.RawURLEncoding.EncodeToString([]byte(claims(clientID, serviceAccount, now-10, now+601)))
			return withAssertion(strings.Join(a, "."))
		}(), 400, "invalid_grant", "signature does not verify"},
		{"claims not json", withClaims(`[1,2]`), 400, "invalid_grant", "claims: not a JSON object"},
		{"wrong iss", withClaims(claims("client-xyz", serviceAccount, now-10, now+600)), 400, "invalid_grant", "iss is not the client id"},
		{"iss of another app", withClaims(claims(otherClientID, serviceAccount, now-10, now+600)), 400, "invalid_grant", "iss is not the client id"},
		{"wrong sub", withClaims(claims(clientID, "x.serviceaccount@example.com", now-10, now+600)), 400, "invalid_grant", "sub is not"},
		{"missing iat", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"exp":%d}`, clientID, serviceAccount, now+600)), 400, "invalid_grant", "iat is missing"},
		{"iat as string", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":"%d","exp":%d}`, clientID, serviceAccount, now-10, now+600)), 400, "invalid_grant", "iat must be a JSON number"},
		{"exp as string", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d,"exp":"%d"}`, clientID, serviceAccount, now-10, now+600)), 400, "invalid_grant", "exp must be a JSON number"},
		{"iat null", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":null,"exp":%d}`, clientID, serviceAccount, now+600)), 400, "invalid_grant", "iat must be a JSON number"},
		{"exp beyond any date", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d,"exp":1e300}`, clientID, serviceAccount, now-10)), 400, "invalid_grant", "exp is out of range"},
		{"fractional exp - iat just over 3600", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d.9,"exp":%d.0}`, clientID, serviceAccount, now-10, now+3591)), 400, "invalid_grant", "more than 3600 s"},
		{"fractional exp 0.5 s ago", withClaims(fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d,"exp":%d.5}`, clientID, serviceAccount, now-600, now-1)), 400, "invalid_grant", "expired 1 s ago"},
		{"exp not after iat", withClaims(claims(clientID, serviceAccount, now, now)), 400, "invalid_grant", "exp is not after iat"},
		{"exp too far", withClaims(claims(clientID, serviceAccount, now-10, now+3591)), 400, "invalid_grant", "more than 3600 s"},
		{"expired", withClaims(claims(clientID, serviceAccount, now-700, now-1)), 400, "invalid_grant", "expired 1 s ago"},
		{"iat in the future", withClaims(claims(clientID, serviceAccount, now+6, now+600)), 400, "invalid_grant", "iat is 6 s in the future"},

		{"missing scope", withForm(func(f url.Values) { f.Del("scope") }), 400, "invalid_request", "missing scope"},
		{"blank scope", withForm(func(f url.Values) { f.Set("scope", " , ") }), 400, "invalid_request", "missing scope"},
		{"scope not allowed", withForm(func(f url.Values) { f.Set("scope", "bot calendar") }), 400, "invalid_scope", `"calendar"`},
		{"scope of another resource op", withForm(func(f url.Values) { f.Set("scope", "bot.message") }), 400, "invalid_scope", `"bot.message"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t)
			status, header, body := tt.req.do(t, s)
			if status != tt.status {
				t.Fatalf("status %d, want %d; body %v; last error %q", status, tt.status, body, s.LastError())
			}
			if s.TokenRequests() != 1 {
				t.Errorf("TokenRequests = %d", s.TokenRequests())
			}
			if cc := header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if status == 200 {
				if s.Issued() != 1 || s.LastError() != "" {
					t.Errorf("Issued %d, LastError %q", s.Issued(), s.LastError())
				}
				if body["scope"] != "bot user.read" && body["scope"] != "bot" {
					t.Errorf("scope %v", body["scope"])
				}
				return
			}
			if body["error"] != tt.code || body["error_description"] == "" {
				t.Errorf("body %v, want error %q", body, tt.code)
			}
			if s.Issued() != 0 {
				t.Errorf("Issued = %d", s.Issued())
			}
			if le := s.LastError(); !strings.Contains(le, tt.reason) || !strings.Contains(le, tt.code) {
				t.Errorf("LastError %q, want it to contain %q and %q", le, tt.code, tt.reason)
			}
			if strings.Contains(s.LastError(), clientSecret) || strings.Contains(fmt.Sprint(body), clientSecret) {
				t.Error("the rejection holds the client secret")
			}
		})
	}
}

func TestSuccessBody(t *testing.T) {
	s, _ := newTestServer(t)
	_, header, body := formRequest(AuthPath+"/token", goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))).do(t, s)
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, k := range []string{"access_token", "refresh_token"} {
		v, _ := body[k].(string)
		if b, err := base64.RawURLEncoding.DecodeString(v); err != nil || len(b) < 32 {
			t.Errorf("%s %q is not 32+ bytes of base64url", k, v)
		}
	}
	if body["token_type"] != "Bearer" || body["expires_in"] != "86400" || body["scope"] != "bot user.read" {
		t.Errorf("body %v", body)
	}
	if !s.Valid(body["access_token"].(string)) || s.Valid(body["refresh_token"].(string)) || s.Valid("nope") {
		t.Error("Valid is wrong")
	}
}

func TestErrorStyleAndNotFound(t *testing.T) {
	s, _ := newTestServer(t)
	s.SetErrorStyle("lineworks")
	form := goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))
	form.Set("client_secret", "wrong")
	status, _, body := formRequest(AuthPath+"/token", form).do(t, s)
	if status != 401 || body["code"] != "INVALID_CLIENT" || body["description"] == "" || body["error"] != nil {
		t.Errorf("lineworks style: %d %v", status, body)
	}
	for _, path := range []string{"/", AuthPath, AuthPath + "/token/", "/oauth2/v1.0/token"} {
		status, _, body := formRequest(path, form).do(t, s)
		if status != 404 || body["code"] != "NOT_FOUND" {
			t.Errorf("%s: %d %v", path, status, body)
		}
	}
	if s.TokenRequests() != 1 {
		t.Errorf("TokenRequests = %d, want 1 (404s are not token requests)", s.TokenRequests())
	}
	defer func() {
		if recover() == nil {
			t.Error("SetErrorStyle accepted an unknown style")
		}
	}()
	s.SetErrorStyle("xml")
}

// tokenRequest sends a good JWT-bearer request with ctx.
func tokenRequest(ctx context.Context, s *Server) (*http.Response, error) {
	form := goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))
	req, err := http.NewRequestWithContext(ctx, "POST", s.AuthURL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

func TestFailNext(t *testing.T) {
	t.Run("429 with Retry-After, twice", func(t *testing.T) {
		s, _ := newTestServer(t)
		s.FailNext(2, Failure{Status: 429, RetryAfter: "30"})
		for i := range 3 {
			req := formRequest(AuthPath+"/token", goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding)))
			status, header, body := req.do(t, s)
			want := 429
			if i == 2 {
				want = 200
			}
			if status != want {
				t.Fatalf("request %d: status %d, want %d", i, status, want)
			}
			if i < 2 && (header.Get("Retry-After") != "30" || body["error"] != "too_many_requests") {
				t.Errorf("request %d: Retry-After %q body %v", i, header.Get("Retry-After"), body)
			}
		}
		if s.TokenRequests() != 3 || s.Issued() != 1 {
			t.Errorf("TokenRequests %d Issued %d", s.TokenRequests(), s.Issued())
		}
	})
	t.Run("defaults by status and style", func(t *testing.T) {
		s, _ := newTestServer(t)
		s.SetErrorStyle("lineworks")
		for _, tt := range []struct {
			f    Failure
			code string
		}{
			{Failure{}, "SERVER_ERROR"},
			{Failure{Status: 503}, "TEMPORARILY_UNAVAILABLE"},
			{Failure{Status: 502, Code: "bad_gateway", Description: "upstream"}, "BAD_GATEWAY"},
		} {
			s.FailNext(1, tt.f)
			status, _, body := formRequest(AuthPath+"/token", url.Values{}).do(t, s)
			if want := max(tt.f.Status, 500); status != want || body["code"] != tt.code {
				t.Errorf("%+v: %d %v", tt.f, status, body)
			}
		}
	})
	t.Run("until cleared", func(t *testing.T) {
		s, _ := newTestServer(t)
		s.FailNext(-1, Failure{Status: 503})
		for range 5 {
			if resp, err := tokenRequest(t.Context(), s); err != nil || resp.StatusCode != 503 {
				t.Fatalf("%v %v", resp, err)
			}
		}
		s.ClearFailures()
		if resp, err := tokenRequest(t.Context(), s); err != nil || resp.StatusCode != 200 {
			t.Fatalf("after ClearFailures: %v %v", resp, err)
		}
	})
	t.Run("drop", func(t *testing.T) {
		s, _ := newTestServer(t)
		s.FailNext(1, Failure{Drop: true})
		if resp, err := tokenRequest(t.Context(), s); err == nil {
			t.Fatalf("got an answer: %d", resp.StatusCode)
		}
		if s.TokenRequests() != 1 || s.Issued() != 0 || !strings.Contains(s.LastError(), "drop") {
			t.Errorf("TokenRequests %d Issued %d LastError %q", s.TokenRequests(), s.Issued(), s.LastError())
		}
		if resp, err := tokenRequest(t.Context(), s); err != nil || resp.StatusCode != 200 {
			t.Fatalf("after the drop: %v %v", resp, err)
		}
	})
	t.Run("hang until the client gives up", func(t *testing.T) {
		s, _ := newTestServer(t)
		s.FailNext(1, Failure{Hang: true})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := tokenRequest(ctx, s); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a deadline", err)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("answered after %v", d)
		}
	})
	for _, tt := range []struct {
		name  string
		setup func(*Server)
	}{
		{"hang until Close", func(s *Server) { s.FailNext(1, Failure{Hang: true}) }},
		{"delay until Close", func(s *Server) { s.SetDelay(time.Hour) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t)
			tt.setup(s)
			done := make(chan error, 1)
			go func() {
				_, err := tokenRequest(context.Background(), s)
				done <- err
			}()
			for s.TokenRequests() == 0 {
				time.Sleep(time.Millisecond)
			}
			s.Close()
			select {
			case err := <-done:
				if err == nil {
					t.Error("a hung request got an answer")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not release the hung request")
			}
		})
	}
}

func TestDelay(t *testing.T) {
	s, _ := newTestServer(t)
	s.SetDelay(150 * time.Millisecond)
	start := time.Now()
	if resp, err := tokenRequest(t.Context(), s); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %v", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := tokenRequest(ctx, s); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline", err)
	}
	s.SetDelay(0)
	if s.TokenRequests() != 2 || s.Issued() != 1 {
		t.Errorf("TokenRequests %d Issued %d", s.TokenRequests(), s.Issued())
	}
}

func TestLifetimeAndValid(t *testing.T) {
	s, clk := newTestServer(t)
	s.SetLifetime(time.Hour)
	s.SetExpiresInNumber(true)
	_, _, body := formRequest(AuthPath+"/token", goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))).do(t, s)
	if body["expires_in"] != float64(3600) {
		t.Fatalf("expires_in %#v, want the number 3600", body["expires_in"])
	}
	tok := body["access_token"].(string)
	clk.Add(time.Hour - time.Second)
	if !s.Valid(tok) {
		t.Error("invalid before expiry")
	}
	clk.Add(time.Second)
	if s.Valid(tok) {
		t.Error("valid at expiry")
	}
}

func TestRefreshGrant(t *testing.T) {
	s, clk := newTestServer(t)
	_, _, body := formRequest(AuthPath+"/token", goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))).do(t, s)
	rt := body["refresh_token"].(string)
	refresh := func(id, secret, token string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "client_secret": {secret}, "refresh_token": {token}}
	}
	status, _, body := formRequest(AuthPath+"/token", refresh(clientID, clientSecret, rt)).do(t, s)
	if status != 200 || !s.Valid(body["access_token"].(string)) || body["refresh_token"] != nil || body["scope"] != "bot user.read" {
		t.Fatalf("refresh: %d %v", status, body)
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"wrong secret", refresh(clientID, "x", rt), 401, "invalid_client"},
		{"missing refresh token", refresh(clientID, clientSecret, ""), 400, "invalid_request"},
		{"unknown refresh token", refresh(clientID, clientSecret, "nope"), 400, "invalid_grant"},
		{"another client's refresh token", refresh(otherClientID, otherSecret, rt), 400, "invalid_grant"},
	}
	for _, tt := range tests {
		status, _, body := formRequest(AuthPath+"/token", tt.form).do(t, s)
		if status != tt.status || body["error"] != tt.code {
			t.Errorf("%s: %d %v", tt.name, status, body)
		}
	}
	clk.Add(RefreshTokenLifetime)
	if status, _, body := formRequest(AuthPath+"/token", refresh(clientID, clientSecret, rt)).do(t, s); status != 400 || !strings.Contains(s.LastError(), "expired") {
		t.Errorf("expired refresh token: %d %v", status, body)
	}
}

func TestRevoke(t *testing.T) {
	s, _ := newTestServer(t)
	_, _, body := formRequest(AuthPath+"/token", goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))).do(t, s)
	access, rt := body["access_token"].(string), body["refresh_token"].(string)
	revoke := func(id, secret, token string) request {
		return formRequest(AuthPath+"/revoke", url.Values{"client_id": {id}, "client_secret": {secret}, "token": {token}, "token_type_hint": {"access_token"}})
	}
	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"wrong secret", revoke(clientID, "x", access), 401, "invalid_client"},
		{"unknown client", revoke("nobody", "x", access), 401, "invalid_client"},
		{"another client's token", revoke(otherClientID, otherSecret, access), 400, "invalid_request"},
		{"missing token", revoke(clientID, clientSecret, ""), 400, "invalid_request"},
		{"GET", request{method: "GET", path: AuthPath + "/revoke"}, 400, "invalid_request"},
		{"unknown token is fine", revoke(clientID, clientSecret, "nope"), 200, ""},
		{"access token", revoke(clientID, clientSecret, access), 200, ""},
		{"refresh token", revoke(clientID, clientSecret, rt), 200, ""},
	}
	for _, tt := range tests {
		status, _, body := tt.req.do(t, s)
		if status != tt.status || (tt.code != "" && body["error"] != tt.code) {
			t.Errorf("%s: %d %v, want %d %s", tt.name, status, body, tt.status, tt.code)
		}
	}
	if s.Valid(access) || s.RevokeRequests() != int64(len(tests)) || s.TokenRequests() != 1 {
		t.Errorf("valid %v, %d revoke requests, %d token requests", s.Valid(access), s.RevokeRequests(), s.TokenRequests())
	}
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "client_secret": {clientSecret}, "refresh_token": {rt}}
	if status, _, body := formRequest(AuthPath+"/token", form).do(t, s); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("revoked refresh token: %d %v", status, body)
	}
}

// mint gets an access token from s for the default app with scope.
func mint(t *testing.T, s *Server, scope string) string {
	t.Helper()
	form := goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))
	form.Set("scope", scope)
	status, _, body := formRequest(AuthPath+"/token", form).do(t, s)
	if status != 200 {
		t.Fatalf("mint: %d %v", status, body)
	}
	return body["access_token"].(string)
}

// apiCall sends one request to the resource API and returns the status and the body.
func apiCall(t *testing.T, s *Server, method, path, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.APIURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The resource API accepts a valid token, refuses a missing or unknown one with 401 and
// a revoked or expired one with 403, all with code UNAUTHORIZED, as LINE WORKS does.
func TestAPIAcceptsAndRefusesTokens(t *testing.T) {
	s, clk := newTestServer(t)
	tok := mint(t, s, "user.read")
	revoked := mint(t, s, "user.read")
	if status, _, _ := formRequest(AuthPath+"/revoke", url.Values{"client_id": {clientID}, "client_secret": {clientSecret}, "token": {revoked}}).do(t, s); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	tests := []struct {
		name, auth string
		status     int
		body       string
	}{
		{"valid", "Bearer " + tok, 200, `{"ok":true}`},
		{"lowercase scheme", "bearer " + tok, 200, `{"ok":true}`},
		{"missing", "", 401, `{"code":"UNAUTHORIZED","description":"the access token is missing"}`},
		{"basic", "Basic " + tok, 401, `"code":"UNAUTHORIZED"`},
		{"unknown", "Bearer nope", 401, `{"code":"UNAUTHORIZED","description":"the access token is invalid"}`},
		{"revoked", "Bearer " + revoked, 403, `{"code":"UNAUTHORIZED","description":"the access token is revoked"}`},
	}
	for _, tt := range tests {
		if status, body := apiCall(t, s, "GET", "/users/me", tt.auth, ""); status != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.body)
		}
	}
	clk.Add(24*time.Hour - time.Second)
	if status, _ := apiCall(t, s, "GET", "/users/me", "Bearer "+tok, ""); status != 200 {
		t.Errorf("a second before expiry: %d", status)
	}
	clk.Add(time.Second)
	if status, body := apiCall(t, s, "GET", "/users/me", "Bearer "+tok, ""); status != 403 || body != `{"code":"UNAUTHORIZED","description":"the access token is expired"}` {
		t.Errorf("expired token: %d %s", status, body)
	}
	if n := s.APIRequests(); n != int64(len(tests))+2 {
		t.Errorf("APIRequests = %d", n)
	}
	if le := s.LastError(); le != "/v1.0/users/me 403 UNAUTHORIZED: the access token is expired" {
		t.Errorf("LastError %q", le)
	}
}

// A bot message send is answered 201 with an empty body, as LINE WORKS does, needs scope
// bot or bot.message, and is recorded.
func TestAPIBotMessage(t *testing.T) {
	s, _ := newTestServer(t)
	bot := "Bearer " + mint(t, s, "bot")
	userRead := "Bearer " + mint(t, s, "user.read")
	const text = `{"content":{"type":"text","text":"hello"}}`
	tests := []struct {
		name, path, auth, body string
		status                 int
		reply                  string
	}{
		{"to a user", "/bots/2000001/users/u1@example.com/messages", bot, text, 201, ""},
		{"to a channel", "/bots/2000001/channels/c-42/messages", bot, text, 201, ""},
		{"without the bot scope", "/bots/2000001/users/u1/messages", userRead, text, 403, `{"code":"FORBIDDEN",`},
		{"not JSON", "/bots/2000001/users/u1/messages", bot, "hello", 400, `{"code":"INVALID_PARAMETER",`},
		{"no token", "/bots/2000001/users/u1/messages", "", text, 401, `{"code":"UNAUTHORIZED",`},
		{"another route", "/bots/2000001/users/u1/other", bot, text, 200, `{"ok":true}`},
	}
	for _, tt := range tests {
		status, reply := apiCall(t, s, "POST", tt.path, tt.auth, tt.body)
		if status != tt.status || !strings.HasPrefix(reply, tt.reply) || (tt.reply == "" && reply != "") {
			t.Errorf("%s: %d %q, want %d %q", tt.name, status, reply, tt.status, tt.reply)
		}
	}
	want := []Message{
		{BotID: "2000001", UserID: "u1@example.com", Body: []byte(text)},
		{BotID: "2000001", ChannelID: "c-42", Body: []byte(text)},
	}
	got := s.Messages()
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("Messages = %q, want %q", got, want)
	}
	got[0].Body[0] = 'x'
	if s.Messages()[0].Body[0] != '{' {
		t.Error("Messages shares its bodies with the caller")
	}
}

func TestFailAPINext(t *testing.T) {
	s, _ := newTestServer(t)
	tok := "Bearer " + mint(t, s, "bot")
	s.FailAPINext(1, Failure{Status: 429, RetryAfter: "7"})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.APIURL+"/users/me", nil)
	req.Header.Set("Authorization", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || !strings.Contains(string(b), `"code":"TOO_MANY_REQUESTS"`) {
		t.Errorf("%d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if status, _ := apiCall(t, s, "GET", "/users/me", tok, ""); status != 200 {
		t.Errorf("after the failure: %d", status)
	}
	s.FailAPINext(-1, Failure{Status: 503})
	s.FailNext(-1, Failure{Status: 500})
	if status, _ := apiCall(t, s, "GET", "/users/me", tok, ""); status != 503 {
		t.Errorf("until cleared: %d", status)
	}
	s.ClearFailures()
	if status, _ := apiCall(t, s, "GET", "/users/me", tok, ""); status != 200 {
		t.Errorf("after ClearFailures: %d", status)
	}
	mint(t, s, "bot") // the token endpoint's failures are cleared too
	if s.TokenRequests() != 2 {
		t.Errorf("TokenRequests = %d", s.TokenRequests())
	}
}

func TestOnRequest(t *testing.T) {
	s, _ := newTestServer(t)
	var mu sync.Mutex
	var events []Event
	s.OnRequest(func(e Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	})
	_, _, body := formRequest(AuthPath+"/token", goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))).do(t, s)
	form := goodForm("x.y.z")
	form.Set("client_secret", "wrong")
	formRequest(AuthPath+"/token", form).do(t, s)

	sum := sha256.Sum256([]byte(body["access_token"].(string)))
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 {
		t.Fatalf("events %+v", events)
	}
	if e := events[0]; e.Status != 200 || e.Token != hex.EncodeToString(sum[:4]) || e.Path != AuthPath+"/token" {
		t.Errorf("issue event %+v", e)
	}
	if e := events[1]; e.Status != 401 || e.Code != "invalid_client" || e.Token != "" {
		t.Errorf("reject event %+v", e)
	}
	if s := fmt.Sprintf("%+v", events); strings.Contains(s, clientSecret) || strings.Contains(s, body["access_token"].(string)) {
		t.Errorf("events hold a secret: %s", s)
	}
}

func TestConcurrent(t *testing.T) {
	s, _ := newTestServer(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if i%5 == 0 {
				s.SetLifetime(time.Hour)
				s.FailNext(1, Failure{Status: 503})
			}
			if resp, err := tokenRequest(t.Context(), s); err != nil || (resp.StatusCode != 200 && resp.StatusCode != 503) {
				t.Errorf("%v %v", resp, err)
			}
		})
	}
	wg.Wait()
	if s.TokenRequests() != 20 || s.Issued() < 16 {
		t.Errorf("TokenRequests %d Issued %d", s.TokenRequests(), s.Issued())
	}
}

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// New returns a fake that serves as a plain http.Handler, for a listener of the
// caller's own; Start then serves it on loopback once.
func TestNewAndStart(t *testing.T) {
	h, err := New(App{ClientID: clientID, PublicKey: &testkey.App().PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.URL != "" || h.AuthURL != "" || h.APIURL != "" {
		t.Errorf("URLs of an unstarted server: %q %q %q", h.URL, h.AuthURL, h.APIURL)
	}
	w := &recorder{header: http.Header{}}
	h.ServeHTTP(w, httpRequest("GET", AuthPath+"/token"))
	if w.status != 400 {
		t.Errorf("GET token: %d", w.status)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.URL, "http://127.0.0.1:") || h.AuthURL != h.URL+"/oauth2/v2.0" || h.APIURL != h.URL+"/v1.0" {
		t.Errorf("URLs %q %q %q", h.URL, h.AuthURL, h.APIURL)
	}
	if err := h.Start(); err == nil {
		t.Error("Start twice succeeded")
	}
	h.Close()
	h.Close() // twice is fine
	if err := h.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
	for _, app := range []App{{ClientID: "x"}, {PublicKey: &testkey.App().PublicKey}} {
		if _, err := New(app); err == nil {
			t.Errorf("New accepted %+v", app)
		}
	}
}

// AddApp registers an app on a running server; a later request of it succeeds.
func TestAddApp(t *testing.T) {
	s := NewServer(t)
	s.SetNow(func() time.Time { return t0 })
	if status, _, _ := formRequest(AuthPath+"/token", goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))).do(t, s); status != 401 {
		t.Fatalf("before AddApp: %d", status)
	}
	if err := s.AddApp(App{ClientID: clientID, ClientSecret: clientSecret, ServiceAccount: serviceAccount, PublicKey: &testkey.App().PublicKey, Scopes: []string{"bot user.read"}}); err != nil {
		t.Fatal(err)
	}
	if status, _, body := formRequest(AuthPath+"/token", goodForm(sign(testkey.App(), goodHeader, goodClaims(), base64.RawURLEncoding))).do(t, s); status != 200 {
		t.Fatalf("after AddApp: %d %v", status, body)
	}
}

func httpRequest(method, path string) *http.Request {
	r, err := http.NewRequest(method, path, nil)
	if err != nil {
		panic(err)
	}
	return r
}
