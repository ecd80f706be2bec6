package lwauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzTokenAnswer serves arbitrary answers (status, Retry-After, content type, body) from
// a token endpoint to Client.Token: the answers of an endpoint that is broken, hostile or
// not LINE WORKS at all. Whatever it sends: no panic; a token only from a 2xx with a usable
// body; otherwise an *Error classified as documented (408, 429 and 5xx retryable, anything
// else not), with a Retry-After of at most 24 h, a one-line message with no control
// characters, and never the client secret or the assertion.
func FuzzTokenAnswer(f *testing.F) {
	for _, c := range []struct {
		status      int
		retry, body string
	}{
		{200, "", `{"access_token":"a","expires_in":"86400","token_type":"Bearer","scope":"bot"}`},
		{200, "", `{"access_token":"a","expires_in":0}`},
		{200, "", `<html>captive portal</html>`},
		{400, "", `{"error":"invalid_grant","error_description":"assertion\nexpired"}`},
		{401, "", `{"code":"INVALID_CLIENT","description":"bad secret"}`},
		{429, "120", `{"code":"TOO_MANY_REQUESTS"}`},
		{429, "Wed, 21 Oct 2099 07:28:00 GMT", ``},
		{503, "-5", "\xff\xfe"},
		{302, "", ``},
		{408, "99999999999999999999", `null`},
	} {
		f.Add(c.status, c.retry, "application/json", []byte(c.body))
	}
	var mu sync.Mutex
	var status int
	var retry, ctype string
	var body []byte
	var form struct{ assertion, secret string }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		form.assertion, form.secret = r.PostForm.Get("assertion"), r.PostForm.Get("client_secret")
		if retry != "" {
			w.Header().Set("Retry-After", retry)
		}
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		w.Write(body)
	}))
	f.Cleanup(srv.Close)
	cl := &Client{AuthURL: srv.URL, Now: pinned, HTTPClient: &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	creds := testCreds()
	f.Fuzz(func(t *testing.T, st int, ra, ct string, b []byte) {
		if st < 200 || st > 599 || len(b) > 1<<17 || strings.ContainsAny(ra+ct, "\r\n\x00") || !utf8.ValidString(ra+ct) {
			return // not something an HTTP server can send (1xx are interim answers)
		}
		mu.Lock()
		status, retry, ctype, body = st, ra, ct, b
		mu.Unlock()
		tok, err := cl.Token(t.Context(), creds, []string{"bot"})
		mu.Lock()
		assertion, sec := form.assertion, form.secret
		mu.Unlock()
		if err == nil {
			if st/100 != 2 || tok.AccessToken.IsZero() || tok.ExpiresIn <= 0 || !tok.Expiry.Equal(t0.Add(tok.ExpiresIn)) {
				t.Fatalf("status %d: accepted %+v", st, tok)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("status %d: %T %v, want *Error", st, err, err)
		}
		msg := err.Error()
		if sec == "" || assertion == "" || strings.Contains(msg, sec) || strings.Contains(msg, assertion) || strings.Contains(e.Body, sec) {
			t.Fatalf("the error carries a secret or the assertion: %q", msg)
		}
		for _, r := range msg {
			if unicode.IsControl(r) {
				t.Fatalf("control character in %q", msg)
			}
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("retry after %s", e.RetryAfter)
		}
		malformed := strings.ContainsFunc(ra+ct, unicode.IsControl) // net/http's client refuses such headers
		switch {
		case malformed && e.StatusCode == 0:
			if !e.Retryable {
				t.Fatalf("a malformed answer is not retryable: %v", err)
			}
		case st/100 == 2:
			if e.Retryable || e.Body != "" {
				t.Fatalf("unusable 2xx: retryable %v, body kept %q", e.Retryable, e.Body)
			}
		case e.StatusCode != st:
			t.Fatalf("status %d reported as %d", st, e.StatusCode)
		case e.Retryable != (st == 408 || st == 429 || st >= 500):
			t.Fatalf("status %d: retryable %v", st, e.Retryable)
		case len(e.Body) > maxErrorBody+3 || !utf8.ValidString(e.Body):
			t.Fatalf("body kept: %d bytes", len(e.Body))
		}
	})
}

// FuzzParseRetryAfter: any header value gives a delay in [0, 24h].
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "1e9", "99999999999999999999", "Wed, 21 Oct 2099 07:28:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", " 5 ", "5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseRetryAfter(s, t0); d < 0 || d > maxRetryAfter {
			t.Fatalf("%q: %s", s, d)
		}
	})
}
