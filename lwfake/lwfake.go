// Package lwfake is a faithful fake of LINE WORKS for tests, in the spirit of
// net/http/httptest: the OAuth token and revoke endpoints of auth.worksmobile.com
// (under AuthPath) and a small stand-in for the resource API of www.worksapis.com
// (under APIPath), on one loopback server.
//
// A bot developer's test registers an app (client id, client secret, service account,
// the public half of the app's key, scopes), points the code under test, or
// lwtoken-helper, at AuthURL and APIURL, and asserts on what the fake saw:
//
//	srv := lwfake.NewServer(t, lwfake.App{
//		ClientID: "client-id", ClientSecret: "client-secret",
//		ServiceAccount: "abcde.serviceaccount@example.com",
//		PublicKey: &key.PublicKey, Scopes: []string{"bot"},
//	})
//	// ... the code under test mints a token at srv.AuthURL and sends a message to srv.APIURL ...
//	if srv.Issued() != 1 || len(srv.Messages()) != 1 { ... }
//
// The token endpoint checks what the real one checks: the form, the client, the RS256
// assertion (base64url without padding, the signature under the app's key, iss, sub, and
// iat/exp as NumericDates at most 3600 s apart around the fake's clock), and the scopes.
// It is no stricter than LINE WORKS: it accepts fractional iat/exp (what LINE WORKS's
// Node and Python samples send) and the twice percent-encoded grant_type of its Python
// sample. The resource stand-in accepts the tokens the fake issued and refuses others the
// way LINE WORKS does (see Server.ServeHTTP).
//
// Knobs inject failures (statuses, Retry-After, dropped or hung connections), delays,
// token lifetimes and a clock; counters and Event callbacks say what happened. Nothing
// the fake records or reports holds a client secret or a whole token. All methods of a
// Server are safe for concurrent use.
//
// The command lwfake (cmd/lwfake) runs the same fake as a standalone process.
package lwfake

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Paths of the two base URLs: the token endpoint is AuthPath+"/token" and the revoke
// endpoint AuthPath+"/revoke" (as at https://auth.worksmobile.com/oauth2/v2.0); the
// resource API lives under APIPath (as at https://www.worksapis.com/v1.0).
const (
	AuthPath = "/oauth2/v2.0"
	APIPath  = "/v1.0"
)

// GrantTypeJWTBearer is the grant_type of the JWT-bearer (service account) grant.
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
	PublicKey                              *rsa.PublicKey // the public half of the service account's key
	Scopes                                 []string       // the app's scopes; space- or comma-separated elements are split
}

// Failure is an injected failure of a request (see Server.FailNext and Server.FailAPINext).
type Failure struct {
	Status     int    // HTTP status, e.g. 500, 502, 503, 429, 408; 0 means 500
	RetryAfter string // Retry-After header value, if any
	Drop       bool   // close the connection without an answer
	Hang       bool   // answer nothing until the client gives up or the server closes, then drop
	// Code and Description form the body in the endpoint's error style; empty ones get
	// defaults from the status.
	Code, Description string
}

// ErrorStyle is the shape of the token endpoint's error bodies (see Server.SetErrorStyle).
type ErrorStyle string

const (
	// ErrorStyleOAuth answers {"error":"invalid_client","error_description":"..."} (RFC 6749).
	ErrorStyleOAuth ErrorStyle = "oauth"
	// ErrorStyleLineWorks answers {"code":"INVALID_CLIENT","description":"..."} (LINE WORKS API style).
	ErrorStyleLineWorks ErrorStyle = "lineworks"
)

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

// Server is the fake: an http.Handler, listening on loopback once started.
type Server struct {
	// URL is the root URL of a started server, "http://127.0.0.1:PORT"; "" until Start.
	URL string
	// AuthURL is URL+AuthPath: what replaces https://auth.worksmobile.com/oauth2/v2.0
	// (lwtoken-helperd setup --auth-url).
	AuthURL string
	// APIURL is URL+APIPath: what replaces https://www.worksapis.com/v1.0.
	APIURL string

	ts        *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	tokenRequests, issued, revokeRequests, apiRequests atomic.Int64

	mu              sync.Mutex
	apps            map[string]App
	now             func() time.Time
	lifetime        time.Duration
	expiresInNumber bool
	errorStyle      ErrorStyle
	tokenFail       failures
	apiFail         failures
	delay           time.Duration
	access          map[string]*grant
	refresh         map[string]*grant
	messages        []Message
	lastError       string
	onRequest       func(Event)
}

// failures is a pending FailNext or FailAPINext.
type failures struct {
	left    int // < 0: until cleared
	failure Failure
}

// grant is an issued access or refresh token.
type grant struct {
	clientID string
	scopes   []string
	expiry   time.Time
	revoked  bool
}

// NewServer starts a fake with apps on a loopback port for the test t and closes it when
// the test ends. It fails t if an app is invalid (see AddApp) or no port can be opened.
func NewServer(t testing.TB, apps ...App) *Server {
	t.Helper()
	s, err := New(apps...)
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		t.Fatalf("lwfake: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// New returns a fake with apps that is not listening yet: serve it as an http.Handler on
// a listener of your own (its URL fields stay empty), or call Start. Call Close when
// done. It fails if an app is invalid (see AddApp).
func New(apps ...App) (*Server, error) {
	s := &Server{
		closed:     make(chan struct{}),
		apps:       make(map[string]App),
		now:        time.Now,
		lifetime:   24 * time.Hour,
		errorStyle: ErrorStyleOAuth,
		access:     make(map[string]*grant),
		refresh:    make(map[string]*grant),
	}
	for _, a := range apps {
		if err := s.AddApp(a); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Start serves the fake on a new loopback port and sets URL, AuthURL and APIURL.
// It fails if the server was started or closed before, or no port can be opened.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return errors.New("start: the server is closed")
	default:
	}
	if s.ts != nil {
		return errors.New("start: the server is already started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if ln, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			return fmt.Errorf("start: listen on loopback: %w", err)
		}
	}
	s.ts = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	s.ts.Start()
	s.URL = s.ts.URL
	s.AuthURL = s.URL + AuthPath
	s.APIURL = s.URL + APIPath
	return nil
}

// Close releases hung and delayed requests and stops the server, if started.
// It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.mu.Lock()
		ts := s.ts
		s.mu.Unlock()
		if ts != nil {
			ts.Close()
		}
	})
}

// AddApp registers app, replacing an app with the same client id. It fails if the app
// has no client id or no public key.
func (s *Server) AddApp(app App) error {
	switch {
	case app.ClientID == "":
		return errors.New("app has no client id")
	case app.PublicKey == nil:
		return fmt.Errorf("app %q has no public key", app.ClientID)
	}
	app.Scopes = splitScopes(strings.Join(app.Scopes, " "))
	s.mu.Lock()
	s.apps[app.ClientID] = app
	s.mu.Unlock()
	return nil
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

// SetErrorStyle sets the shape of the token endpoint's error bodies; the default is
// ErrorStyleOAuth. It panics on a style that is not one of the constants.
func (s *Server) SetErrorStyle(style ErrorStyle) {
	if style != ErrorStyleOAuth && style != ErrorStyleLineWorks {
		panic("lwfake: unknown error style " + strconv.Quote(string(style)))
	}
	s.mu.Lock()
	s.errorStyle = style
	s.mu.Unlock()
}

// FailNext makes the next n token requests fail as f, before any check; n < 0 means
// every one until ClearFailures. It replaces an earlier FailNext.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	s.tokenFail = failures{n, f}
	s.mu.Unlock()
}

// FailAPINext makes the next n requests to the resource API fail as f, before the token
// is checked; n < 0 means every one until ClearFailures. The body is in the API's style,
// {"code":"TOO_MANY_REQUESTS","description":"..."}. It replaces an earlier FailAPINext.
func (s *Server) FailAPINext(n int, f Failure) {
	s.mu.Lock()
	s.apiFail = failures{n, f}
	s.mu.Unlock()
}

// ClearFailures cancels FailNext and FailAPINext.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	s.tokenFail, s.apiFail = failures{}, failures{}
	s.mu.Unlock()
}

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

// APIRequests returns the number of requests the resource API received, including
// refused and failed ones.
func (s *Server) APIRequests() int64 { return s.apiRequests.Load() }

// Valid reports whether accessToken was issued by this fake, is not revoked and has not
// expired by the fake's clock.
func (s *Server) Valid(accessToken string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[accessToken]
	return ok && !g.revoked && s.now().Before(g.expiry)
}

// LastError returns why the last rejected or failed request was, like
// "/oauth2/v2.0/token 400 invalid_grant: assertion: iss is not the client id"; "" if
// none was.
func (s *Server) LastError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastError
}

// ServeHTTP serves the token endpoint (AuthPath+"/token"), the revoke endpoint
// (AuthPath+"/revoke") and the resource API (under APIPath+"/"); every other path is 404.
//
// The resource API answers a request whose "Authorization: Bearer TOKEN" carries a token
// the fake issued and that is still Valid: 201 with an empty body to a bot message send
// (POST .../bots/BOT/users/USER/messages or .../bots/BOT/channels/CHANNEL/messages, JSON
// body; recorded for Messages; it needs scope bot or bot.message, else 403 FORBIDDEN), and
// 200 {"ok":true} to anything else. It refuses a missing or unknown token with
// 401 {"code":"UNAUTHORIZED"}, and a revoked or expired one with 403
// {"code":"UNAUTHORIZED"}, as LINE WORKS does (its samples renew the token on that 403).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == AuthPath+"/token":
		s.serveToken(w, r)
	case p == AuthPath+"/revoke":
		s.serveRevoke(w, r)
	case strings.HasPrefix(p, APIPath+"/"):
		s.serveAPI(w, r)
	default:
		s.reject(w, r, http.StatusNotFound, "not_found", "no such endpoint")
	}
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

// take consumes one injected failure of f, if any is pending.
func (s *Server) take(f *failures) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.left == 0 {
		return Failure{}, false
	}
	if f.left > 0 {
		f.left--
	}
	return f.failure, true
}

// fail answers (or does not answer) as the injected failure says; answer writes the
// error body of the endpoint.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f Failure, answer func(status int, code, desc string)) {
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
		answer(status, code, "injected failure: "+desc)
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
