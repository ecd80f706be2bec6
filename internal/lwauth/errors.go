package lwauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error is every failure of Client.Token and Client.Revoke once the arguments were valid.
// Its text never holds the client secret, the assertion or a token.
//
// Classification (Retryable):
//   - no complete HTTP answer (dial, TLS, timeout, context done, connection dropped,
//     body read failed): StatusCode 0, retryable;
//   - 408, 429 and 5xx: retryable, with RetryAfter from the Retry-After header;
//   - every other status (3xx, 400, 401, 403, 404, ...): not retryable, the same request
//     would get the same answer;
//   - a 2xx answer that is not a usable token (not JSON, no access_token, missing or
//     non-positive expires_in, larger than 64 KiB): not retryable. It means the server is
//     not a LINE WORKS token endpoint (check AuthURL) and waiting will not fix it.
//     Body stays empty then, since a 2xx body may hold a token.
type Error struct {
	Op          string        // "token request" or "revoke"
	StatusCode  int           // HTTP status; 0 when no complete HTTP answer arrived
	Code        string        // from the body: RFC 6749 "error" or LINE WORKS "code"
	Description string        // from the body: "error_description" or "description"
	Body        string        // the raw error body, capped at 1 KiB, for diagnostics; empty for 2xx
	Retryable   bool          // whether the same request may succeed later (see above)
	RetryAfter  time.Duration // from Retry-After (seconds or HTTP date, capped at 24 h); 0 if absent
	Err         error         // the underlying error, if any
}

// Error returns a one-line, lowercase message such as
// "lwauth: token request: 401 invalid_client: client authentication failed".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("lwauth: ")
	b.WriteString(e.Op)
	if e.StatusCode != 0 {
		b.WriteString(": ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		if e.Code != "" {
			b.WriteString(" ")
			b.WriteString(e.Code)
		} else if e.Description == "" && e.Err == nil {
			b.WriteString(" ")
			b.WriteString(strings.ToLower(http.StatusText(e.StatusCode)))
		}
	}
	switch {
	case e.Description != "":
		b.WriteString(": ")
		b.WriteString(e.Description)
	case e.Err != nil:
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth retrying later: an *Error with Retryable set,
// or (unwrapped) a context or network error. Callers should check their own context
// before retrying. It returns false for nil and for argument errors.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// RetryAfterOf returns the server's Retry-After carried by err, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// retryableStatus reports whether an HTTP status is worth retrying.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// maxRetryAfter caps Retry-After: a token endpoint asking for more is misbehaving,
// and the renewer must never wait past a token's expiry anyway.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date relative to now.
// It returns 0 for an absent, malformed or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// clean makes a server-supplied string safe for a one-line message: valid UTF-8,
// control characters replaced by spaces, at most limit bytes (plus an ellipsis).
func clean(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
