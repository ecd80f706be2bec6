// Package lwauthtest owns a faithful fake of the LINE WORKS token endpoint (token and
// revoke, at /oauth2/v2.0) and a tiny stand-in for the resource API, for tests and the demo.
//
// The fake checks what the real endpoint checks (see the shared lineworks-auth notes):
// the form, the client, the RS256 assertion and its claims, and the scopes. Knobs inject
// failures, delays and lifetimes. It does not import lwauth, so that lwauth's own tests
// can use it.
package lwauthtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
)

// BasePath is the path of the auth base URL; the endpoints are BasePath+"/token" and
// BasePath+"/revoke".
const BasePath = "/oauth2/v2.0"

// GrantTypeJWTBearer is the grant_type of the JWT-bearer grant.
const GrantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// Limits the fake enforces, like the real endpoint.
const (
	MaxAssertionLifetime = 3600 * time.Second // exp - iat at most
	MaxIatSkew           = 5 * time.Second    // iat may be this far in the future of the fake's clock
	RefreshTokenLifetime = 90 * 24 * time.Hour
	maxFormBytes         = 64 << 10
)

// App is an app configured in the (fake) Developer Console.
type App struct {
	ClientID, ClientSecret, ServiceAccount string
	PublicKey                              *rsa.PublicKey
	Scopes                                 []string // the app's configured scopes (space- or comma-separated elements are split)
}

// Failure is an injected failure of a token request (see Server.FailNext).
type Failure struct {
	Status     int    // HTTP status, e.g. 500, 502, 503, 429, 408; 0 means 500
	RetryAfter string // Retry-After header value, if any
	Drop       bool   // close the connection without an answer
	Hang       bool   // answer nothing until the client gives up or the server closes, then drop
	// Code and Description form the body in the current error style; empty ones get
	// defaults from the status.
	Code, Description string
}

// Event describes one request the fake handled, for a log line. It holds no secret:
// Token is the fingerprint (8 hex digits of SHA-256) of an issued access token.
type Event struct {
	Method string
	Path   string
	Status int    // 0 when no answer was sent (dropped, or the client gave up)
	Code   string // the error code of a rejection or injected failure
	Token  string // fingerprint of the access token issued, if any
	Reason string // why the request was rejected or not answered
}

// Server is the fake. All methods are safe for concurrent use.
type Server struct {
	ts        *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	tokenRequests, issued, revokeRequests atomic.Int64

	mu              sync.Mutex
	apps            map[string]App
	now             func() time.Time
	lifetime        time.Duration
	expiresInNumber bool
	errorStyle      string
	failLeft        int // < 0: until ClearFailures
	failure         Failure
	delay           time.Duration
	access          map[string]*grant
	refresh         map[string]*grant
	lastError       string
	onRequest       func(Event)
}

// grant is an issued access or refresh token.
type grant struct {
	clientID string
	scopes   []string
	expiry   time.Time
	revoked  bool
}

// NewServer starts the fake on a loopback httptest server. URL returns its auth base URL.
// It panics if an app has no public key.
func NewServer(apps ...App) *Server {
	s := NewHandler(apps...)
	s.ts = httptest.NewServer(s)
	return s
}

// NewHandler returns the fake as an http.Handler serving BasePath, for a standalone
// process; URL returns "" for it. Call Close on shutdown to release hung requests.
// It panics if an app has no public key.
func NewHandler(apps ...App) *Server {
	s := &Server{
		closed:     make(chan struct{}),
		apps:       make(map[string]App),
		now:        time.Now,
		lifetime:   24 * time.Hour,
		errorStyle: "oauth",
		access:     make(map[string]*grant),
		refresh:    make(map[string]*grant),
	}
	for _, a := range apps {
		if a.PublicKey == nil {
			panic(fmt.Sprintf("lwauthtest: app %q has no public key", a.ClientID))
		}
		a.Scopes = splitScopes(strings.Join(a.Scopes, " "))
		s.apps[a.ClientID] = a
	}
	return s
}

// URL returns the auth base URL (".../oauth2/v2.0"), or "" for a Server from NewHandler.
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL + BasePath
}

// Close releases hung and delayed requests and stops the httptest server, if any.
// It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.ts != nil {
			s.ts.Close()
		}
	})
}

// SetNow sets the fake's clock, used for the assertion's iat/exp window and for token
// expiry. nil means time.Now.
func (s *Server) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// SetLifetime sets the lifetime (expires_in) of access tokens issued from now on.
// The default is 24 h; 1 h is the other setting LINE WORKS offers.
func (s *Server) SetLifetime(d time.Duration) {
	s.mu.Lock()
	s.lifetime = d
	s.mu.Unlock()
}

// SetExpiresInNumber makes expires_in a JSON number; by default it is a JSON string
// ("86400"), like the real endpoint sends.
func (s *Server) SetExpiresInNumber(number bool) {
	s.mu.Lock()
	s.expiresInNumber = number
	s.mu.Unlock()
}

// SetErrorStyle sets the error body: "oauth" (the default) answers
// {"error":"invalid_client","error_description":"..."}, "lineworks" answers
// {"code":"INVALID_CLIENT","description":"..."}. It panics on any other style.
func (s *Server) SetErrorStyle(style string) {
	if style != "oauth" && style != "lineworks" {
		panic("lwauthtest: unknown error style " + strconv.Quote(style))
	}
	s.mu.Lock()
	s.errorStyle = style
	s.mu.Unlock()
}

// FailNext makes the next n token requests fail as f, before any check; n < 0 means
// every one until ClearFailures. It replaces an earlier FailNext.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	s.failLeft, s.failure = n, f
	s.mu.Unlock()
}

// ClearFailures cancels FailNext.
func (s *Server) ClearFailures() { s.FailNext(0, Failure{}) }

// SetDelay delays every token request by d before it is answered (or failed). If the
// client gives up or the server closes during the delay, the connection is closed
// without an answer.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// OnRequest sets a function called once per request handled, after it is answered.
// It must not block for long; nil removes it.
func (s *Server) OnRequest(f func(Event)) {
	s.mu.Lock()
	s.onRequest = f
	s.mu.Unlock()
}

// TokenRequests returns the number of token requests received, including failed and
// rejected ones.
func (s *Server) TokenRequests() int64 { return s.tokenRequests.Load() }

// Issued returns the number of access tokens issued (by either grant).
func (s *Server) Issued() int64 { return s.issued.Load() }

// RevokeRequests returns the number of revoke requests received.
func (s *Server) RevokeRequests() int64 { return s.revokeRequests.Load() }

// Valid reports whether accessToken was issued by this fake, is not revoked and has not
// expired by the fake's clock.
func (s *Server) Valid(accessToken string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[accessToken]
	return ok && !g.revoked && s.now().Before(g.expiry)
}

// LastError returns why the last rejected or failed request was, like
// "/oauth2/v2.0/token 400 invalid_grant: iss is not the client id"; "" if none was.
func (s *Server) LastError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastError
}

// ResourceHandler returns a tiny stand-in for the resource API (www.worksapis.com/v1.0):
// it answers 200 {"ok":true} to any request with "Authorization: Bearer <token>" for a
// token that is Valid, and 401 {"code":"UNAUTHORIZED","description":"..."} otherwise.
func (s *Server) ResourceHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" || !s.Valid(tok) {
			const desc = "the access token is missing, invalid, revoked or expired"
			s.noteError(r, http.StatusUnauthorized, "UNAUTHORIZED", desc)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": "UNAUTHORIZED", "description": desc})
			s.emit(Event{Method: r.Method, Path: r.URL.Path, Status: http.StatusUnauthorized, Code: "UNAUTHORIZED", Reason: desc})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		s.emit(Event{Method: r.Method, Path: r.URL.Path, Status: http.StatusOK})
	})
}

// ServeHTTP serves BasePath+"/token" and BasePath+"/revoke"; every other path is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case BasePath + "/token":
		s.serveToken(w, r)
	case BasePath + "/revoke":
		s.serveRevoke(w, r)
	default:
		s.reject(w, r, http.StatusNotFound, "not_found", "no such endpoint")
	}
}

// rejection is a request the fake refuses: an HTTP status, an OAuth error code
// (lowercase, RFC 6749 style) and a description.
type rejection struct {
	status      int
	code        string
	description string
}

func badRequest(code, format string, args ...any) *rejection {
	return &rejection{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

func badClient(description string) *rejection {
	return &rejection{http.StatusUnauthorized, "invalid_client", description}
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.tokenRequests.Add(1)
	if !s.wait(r) {
		s.note(r.URL.Path + " no answer: the client gave up or the server closed during the delay")
		s.emit(Event{Method: r.Method, Path: r.URL.Path, Reason: "client gave up or server closed during the delay"})
		drop(w)
		return
	}
	if f, ok := s.takeFailure(); ok {
		s.fail(w, r, f)
		return
	}
	form, rej := s.checkRequest(w, r)
	if rej == nil {
		var app App
		app, rej = s.authenticate(form)
		if rej == nil {
			switch form["grant_type"] {
			case GrantTypeJWTBearer:
				rej = s.grantJWT(w, r, app, form)
			case "refresh_token":
				rej = s.grantRefresh(w, r, app, form)
			}
		}
	}
	if rej != nil {
		s.reject(w, r, rej.status, rej.code, rej.description)
	}
}

// checkRequest checks what every token and revoke request must satisfy and returns its form.
func (s *Server) checkRequest(w http.ResponseWriter, r *http.Request) (map[string]string, *rejection) {
	if r.Method != http.MethodPost {
		return nil, badRequest("invalid_request", "method must be POST, not %s", r.Method)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, badRequest("invalid_request", "content type must be application/x-www-form-urlencoded")
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		return nil, badClient("client credentials must be in the form body, not in an Authorization header")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("invalid_request", "malformed form body")
	}
	form := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, badRequest("invalid_request", "parameter %q is repeated", k)
		}
		form[k] = v[0]
	}
	if r.URL.Path == BasePath+"/token" {
		switch gt := form["grant_type"]; gt {
		case GrantTypeJWTBearer, "refresh_token":
		case "":
			return nil, badRequest("invalid_request", "missing grant_type")
		default:
			return nil, badRequest("unsupported_grant_type", "grant_type %q is not supported", gt)
		}
	}
	return form, nil
}

// authenticate checks client_id and client_secret (in constant time).
func (s *Server) authenticate(form map[string]string) (App, *rejection) {
	id := form["client_id"]
	if id == "" {
		return App{}, badClient("missing client_id")
	}
	s.mu.Lock()
	app, ok := s.apps[id]
	s.mu.Unlock()
	if !ok {
		return App{}, badClient("unknown client_id")
	}
	if subtle.ConstantTimeCompare([]byte(form["client_secret"]), []byte(app.ClientSecret)) != 1 {
		return App{}, badClient("client authentication failed")
	}
	return app, nil
}

// grantJWT runs the JWT-bearer grant for an authenticated app.
func (s *Server) grantJWT(w http.ResponseWriter, r *http.Request, app App, form map[string]string) *rejection {
	assertion := form["assertion"]
	if assertion == "" {
		return badRequest("invalid_request", "missing assertion")
	}
	if err := verifyAssertion(assertion, app, s.clock()); err != nil {
		return badRequest("invalid_grant", "assertion: %v", err)
	}
	scopes := splitScopes(form["scope"])
	if len(scopes) == 0 {
		return badRequest("invalid_request", "missing scope")
	}
	for _, sc := range scopes {
		if !slices.Contains(app.Scopes, sc) {
			return badRequest("invalid_scope", "scope %q is not configured for this app", sc)
		}
	}
	s.issue(w, r, app.ClientID, scopes, true)
	return nil
}

// grantRefresh runs the refresh-token grant. Like the default app setting (no refresh
// token rotation), the answer carries no new refresh token.
func (s *Server) grantRefresh(w http.ResponseWriter, r *http.Request, app App, form map[string]string) *rejection {
	rt := form["refresh_token"]
	if rt == "" {
		return badRequest("invalid_request", "missing refresh_token")
	}
	s.mu.Lock()
	g, ok := s.refresh[rt]
	now := s.now()
	var rej *rejection
	switch {
	case !ok:
		rej = badRequest("invalid_grant", "unknown refresh_token")
	case g.clientID != app.ClientID:
		rej = badRequest("invalid_grant", "refresh_token was issued to another client")
	case g.revoked:
		rej = badRequest("invalid_grant", "refresh_token is revoked")
	case !now.Before(g.expiry):
		rej = badRequest("invalid_grant", "refresh_token is expired")
	}
	s.mu.Unlock()
	if rej != nil {
		return rej
	}
	s.issue(w, r, app.ClientID, g.scopes, false)
	return nil
}

// issue records and answers a new access token (and refresh token if withRefresh).
func (s *Server) issue(w http.ResponseWriter, r *http.Request, clientID string, scopes []string, withRefresh bool) {
	access := randomToken()
	s.mu.Lock()
	now, lifetime := s.now(), s.lifetime
	s.access[access] = &grant{clientID: clientID, scopes: scopes, expiry: now.Add(lifetime)}
	body := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"scope":        strings.Join(scopes, " "),
	}
	seconds := int64(lifetime / time.Second)
	if s.expiresInNumber {
		body["expires_in"] = seconds
	} else {
		body["expires_in"] = strconv.FormatInt(seconds, 10)
	}
	if withRefresh {
		rt := randomToken()
		s.refresh[rt] = &grant{clientID: clientID, scopes: scopes, expiry: now.Add(RefreshTokenLifetime)}
		body["refresh_token"] = rt
	}
	s.mu.Unlock()
	s.issued.Add(1)
	writeJSON(w, http.StatusOK, body)
	s.emit(Event{Method: r.Method, Path: r.URL.Path, Status: http.StatusOK, Token: secret.New(access).Fingerprint()})
}

func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	s.revokeRequests.Add(1)
	form, rej := s.checkRequest(w, r)
	if rej == nil {
		var app App
		app, rej = s.authenticate(form)
		if rej == nil {
			rej = s.revoke(app, form["token"])
		}
	}
	if rej != nil {
		s.reject(w, r, rej.status, rej.code, rej.description)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	s.emit(Event{Method: r.Method, Path: r.URL.Path, Status: http.StatusOK})
}

// revoke marks token (access or refresh) revoked. Like RFC 7009, an unknown token is
// not an error; a token of another client is.
func (s *Server) revoke(app App, token string) *rejection {
	if token == "" {
		return badRequest("invalid_request", "missing token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[token]
	if !ok {
		g, ok = s.refresh[token]
	}
	if !ok {
		return nil
	}
	if g.clientID != app.ClientID {
		return badRequest("invalid_request", "token was issued to another client")
	}
	g.revoked = true
	return nil
}

// wait sleeps the configured delay; it reports false if the client gave up or the
// server closed meanwhile.
func (s *Server) wait(r *http.Request) bool {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.closed:
	}
	return false
}

// takeFailure consumes one injected failure, if any is pending.
func (s *Server) takeFailure() (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failLeft == 0 {
		return Failure{}, false
	}
	if s.failLeft > 0 {
		s.failLeft--
	}
	return s.failure, true
}

// fail answers (or does not answer) as the injected failure says.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f Failure) {
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		s.note(r.URL.Path + " injected failure: hang")
		s.emit(Event{Method: r.Method, Path: r.URL.Path, Reason: "injected failure: hang"})
		drop(w)
	case f.Drop:
		s.note(r.URL.Path + " injected failure: drop")
		s.emit(Event{Method: r.Method, Path: r.URL.Path, Reason: "injected failure: drop"})
		drop(w)
	default:
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		code, desc := f.Code, f.Description
		if code == "" {
			code = defaultCode(status)
		}
		if desc == "" {
			desc = strings.ToLower(http.StatusText(status))
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		s.reject(w, r, status, code, "injected failure: "+desc)
	}
}

// defaultCode is the OAuth-style code of an injected failure's status.
func defaultCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	case http.StatusRequestTimeout:
		return "request_timeout"
	default:
		return "server_error"
	}
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // not hijackable (HTTP/2): abort the stream instead
	}
	_ = conn.Close()
}

// reject answers an error in the current style and records it.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	s.mu.Lock()
	style := s.errorStyle
	s.mu.Unlock()
	s.noteError(r, status, code, description)
	body := map[string]any{"error": code, "error_description": description}
	if style == "lineworks" {
		code = strings.ToUpper(code)
		body = map[string]any{"code": code, "description": description}
	}
	writeJSON(w, status, body)
	s.emit(Event{Method: r.Method, Path: r.URL.Path, Status: status, Code: code, Reason: description})
}

func (s *Server) noteError(r *http.Request, status int, code, description string) {
	s.note(fmt.Sprintf("%s %d %s: %s", r.URL.Path, status, code, description))
}

func (s *Server) note(msg string) {
	s.mu.Lock()
	s.lastError = msg
	s.mu.Unlock()
}

func (s *Server) emit(e Event) {
	s.mu.Lock()
	f := s.onRequest
	s.mu.Unlock()
	if f != nil {
		f(e)
	}
}

func (s *Server) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings, numbers and bools are written
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// splitScopes splits on white space and commas, dropping empties and duplicates, sorted.
func splitScopes(s string) []string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	slices.Sort(parts)
	return slices.Compact(parts)
}
