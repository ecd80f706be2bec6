package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// fuzzDaemon is a daemon (not listening) with two profiles against a fake endpoint.
func fuzzDaemon(f *testing.F) (*Daemon, *lwfake.Server, []byte) {
	k := testkey.App()
	fake := lwfake.NewServer(f, lwfake.App{ClientID: clientID, ClientSecret: cs, ServiceAccount: sa,
		PublicKey: &k.PublicKey, Scopes: []string{"bot", "user.read", "directory.read"}})
	dir := f.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := config.Save(cfg, &config.Config{DefaultProfile: "default", Profiles: map[string]*config.Profile{
		"default": {ClientID: clientID, ServiceAccount: sa, Scopes: []string{"bot", "user.read"}, AuthURL: fake.AuthURL},
		"other":   {ClientID: clientID, ServiceAccount: sa, Scopes: []string{"directory.read"}, AuthURL: fake.AuthURL},
	}}); err != nil {
		f.Fatal(err)
	}
	keyPEM := testkey.PEM(k)
	store := keystore.NewMemory()
	for _, p := range []string{"default", "other"} {
		store.Set(context.Background(), keystore.PrivateKeyKey(p), keyPEM)
		store.Set(context.Background(), keystore.ClientSecretKey(p), []byte(cs))
	}
	d, err := New(Options{SocketPath: filepath.Join(dir, "sock"), ConfigPath: cfg, Secrets: store, Tokens: store, UpstreamTimeout: 5 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.broker.close(); d.stopKeyringProbe() })
	return d, fake, keyPEM
}

var knownCodes = map[string]bool{wire.CodeBadRequest: true, wire.CodeForbidden: true, wire.CodeNotConfigured: true,
	wire.CodeRejected: true, wire.CodeUnavailable: true, wire.CodeKeyring: true, wire.CodeUnknownRoute: true}

// FuzzHandler sends arbitrary request bytes, as any local process may write to the
// socket, through net/http's request parser to the daemon's handler. Whatever arrives:
// no panic, no 5xx but 502/503, every answer of the daemon's own a JSON error with a known
// code and a lowercase message, or a token valid at the endpoint with more than 10 s left;
// never a secret; and a token only to a request with the right Host and no browser header.
func FuzzHandler(f *testing.F) {
	d, fake, keyPEM := fuzzDaemon(f)
	h := d.handler()
	for _, s := range []string{
		"GET /v1/token HTTP/1.1\r\nHost: lwtoken-helper\r\n\r\n",
		"GET /v1/token?profile=other&min_ttl=30m HTTP/1.1\r\nHost: lwtoken-helper\r\n\r\n",
		"GET /v1/token?scope=bot,user.read&min_ttl=86399 HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /v1/token?scope=%00&profile=..%2f HTTP/1.1\r\nHost: lwtoken-helper\r\n\r\n",
		"GET /v1/token?min_ttl=-1s HTTP/1.1\r\nHost: lwtoken-helper\r\n\r\n",
		"GET /v1/status HTTP/1.1\r\nHost: lwtoken-helper\r\nOrigin: null\r\n\r\n",
		"GET /v1/profiles HTTP/1.1\r\nHost: lwtoken-helper\r\n\r\n",
		"POST /v1/reload HTTP/1.1\r\nHost: lwtoken-helper\r\nContent-Length: 3\r\n\r\nabc",
		"POST /v1/reload HTTP/1.1\r\nHost: lwtoken-helper\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET //v1/../v1/token HTTP/1.1\r\nHost: evil\r\n\r\n",
		"GET /v1/token HTTP/1.0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // net/http answers 400 itself
		}
		if req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, wire.PathRevoke) {
			return // revocation is fuzzed by its own tests; here it would only churn tokens
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req = req.WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		body := rec.Body.Bytes()
		if bytes.Contains(body, []byte(cs)) || bytes.Contains(body, keyPEM[40:80]) {
			t.Fatal("a secret in the answer")
		}
		switch {
		case res.StatusCode >= 500 && res.StatusCode != 502 && res.StatusCode != 503:
			t.Fatalf("status %d: %s", res.StatusCode, body)
		case res.Header.Get("Content-Type") != "application/json":
			// Answered by net/http itself (400 for "*" or a malformed request, a redirect
			// to the cleaned path): no handler of ours ran. Unknown routes and methods are
			// ours (JSON unknown_route), so 404 and 405 never come as text.
			if res.StatusCode != 400 && res.StatusCode/100 != 3 {
				t.Fatalf("status %d from the mux: %q", res.StatusCode, body)
			}
			return
		}
		if n, err := strconv.Atoi(res.Header.Get("Content-Length")); err != nil || n != len(body) {
			t.Fatalf("content-length %q for %d bytes", res.Header.Get("Content-Length"), len(body))
		}
		if res.StatusCode != 200 {
			var we wire.Error
			if err := json.Unmarshal(body, &we); err != nil || !knownCodes[we.Code] || we.Error == "" {
				t.Fatalf("status %d, body %q", res.StatusCode, body)
			}
			if r := []rune(we.Error)[0]; unicode.IsUpper(r) {
				t.Fatalf("error not lowercase: %q", we.Error)
			}
			return
		}
		if req.URL.Path != wire.PathToken {
			return
		}
		if req.Host != wire.Host && req.Host != "localhost" {
			t.Fatalf("a token for Host %q", req.Host)
		}
		if len(req.Header.Values("Origin")) > 0 || len(req.Header.Values("Referer")) > 0 {
			t.Fatal("a token for a browser request")
		}
		var tok wire.Token
		if err := json.Unmarshal(body, &tok); err != nil || !fake.Valid(tok.AccessToken) || time.Until(tok.ExpiresAt) < minServeTTL {
			t.Fatalf("token answer %q: %v", body, err)
		}
	})
}

// FuzzParseMinTTL: a min_ttl is accepted only as a duration in [0, 24h), and whole
// seconds mean seconds.
func FuzzParseMinTTL(f *testing.F) {
	for _, s := range []string{"", "0", "30m", "86399", "86400", "24h", "-1", "1e3", "9223372036854775807", "1h1m1.5s", " 5s", "5 s", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseMinTTL(s)
		if err != nil {
			if err.Code != wire.CodeBadRequest || d != 0 {
				t.Fatalf("%q: %v %v", s, d, err)
			}
			return
		}
		if d < 0 || d >= maxTokenLifetime {
			t.Fatalf("%q accepted as %s", s, d)
		}
		if n, perr := strconv.ParseInt(s, 10, 64); perr == nil && time.Duration(n)*time.Second != d {
			t.Fatalf("%q parsed as %s", s, d)
		}
	})
}

// FuzzParseStoredToken reads keyring items (which any program of the user can write):
// no panic, only consistent tokens accepted, and what the daemon writes reads back.
func FuzzParseStoredToken(f *testing.F) {
	good := (&cachedToken{Access: secret.New("tok"), TokenType: "Bearer", Scope: "bot", IssuedAt: time.Unix(1e9, 0),
		Expiry: time.Unix(1e9+3600, 0), ClientID: "c", AuthURL: "https://auth.worksmobile.com/oauth2/v2.0"}).marshal()
	for _, s := range [][]byte{good, []byte(`{"v":1}`), []byte(`{"v":2,"access_token":"a"}`), []byte(`null`), []byte(`[]`),
		[]byte(`{"v":1,"access_token":"a","issued_at":"2030-01-01T00:00:00Z","expires_at":"2020-01-01T00:00:00Z"}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseStoredToken(b)
		if err != nil {
			if tok != nil {
				t.Fatal("token and error")
			}
			return
		}
		if tok.Access.IsZero() || !tok.Expiry.After(tok.IssuedAt) {
			t.Fatalf("accepted an inconsistent token: %+v", tok)
		}
		again, err := parseStoredToken(tok.marshal())
		if err != nil || again.Access.Reveal() != tok.Access.Reveal() || !again.Expiry.Equal(tok.Expiry) ||
			!again.IssuedAt.Equal(tok.IssuedAt) || again.Scope != tok.Scope || again.ClientID != tok.ClientID || again.AuthURL != tok.AuthURL {
			t.Fatalf("round trip: %v", err)
		}
	})
}
