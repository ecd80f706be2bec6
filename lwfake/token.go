package lwfake

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
)

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
	if f, ok := s.take(&s.tokenFail); ok {
		s.fail(w, r, f, func(status int, code, desc string) { s.reject(w, r, status, code, desc) })
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
	if r.URL.Path == AuthPath+"/token" {
		gt := grantType(form["grant_type"])
		switch gt {
		case GrantTypeJWTBearer, "refresh_token":
			form["grant_type"] = gt
		case "":
			return nil, badRequest("invalid_request", "missing grant_type")
		default:
			return nil, badRequest("unsupported_grant_type", "grant_type %q is not supported", gt)
		}
	}
	return form, nil
}

// grantType is the grant_type as sent, or, if it is percent-encoded once more, decoded
// once more: LINE WORKS's official Python sample (works-api-code-samples,
// samples/python/bot-echo-fastapi/lineworks.py) quotes the value before the form
// encoding quotes it again, so the server sees "urn%3Aietf%3Aparams%3A...", and the
// real endpoint accepts it.
func grantType(gt string) string {
	if !strings.Contains(gt, "%") {
		return gt
	}
	if d, err := url.QueryUnescape(gt); err == nil && (d == GrantTypeJWTBearer || d == "refresh_token") {
		return d
	}
	return gt
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

// reject answers an error of the auth endpoints in the current style and records it.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	s.mu.Lock()
	style := s.errorStyle
	s.mu.Unlock()
	s.noteError(r, status, code, description)
	body := map[string]any{"error": code, "error_description": description}
	if style == ErrorStyleLineWorks {
		code = strings.ToUpper(code)
		body = map[string]any{"code": code, "description": description}
	}
	writeJSON(w, status, body)
	s.emit(Event{Method: r.Method, Path: r.URL.Path, Status: status, Code: code, Reason: description})
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
