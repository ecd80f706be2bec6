// Package client is the Go client of lwtoken-helperd: it asks the daemon for tokens and its
// status over the Unix socket. The zero Client is ready to use and finds the socket the way
// the CLI does ($LWTOKEN_HELPER_SOCKET, else the per-user default).
//
// It speaks HTTP/1.1 by hand over one connection per call and does not import net/http, so
// that programs started at every shell prompt stay small and start fast.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// Sentinel errors. Every error of a Client call that came from the daemon or the dial is
// an *Error that matches one of these with errors.Is (docs/protocol.md maps each error
// code to its sentinel and to the CLI's exit code).
var (
	ErrDaemonNotRunning = errors.New("daemon not running")                 // no daemon answers on the socket
	ErrBadRequest       = errors.New("bad request")                        // code bad_request: an unknown scope, a bad min TTL, ...
	ErrForbidden        = errors.New("forbidden")                          // code forbidden: browser headers or a foreign Host
	ErrNotConfigured    = errors.New("not configured")                     // code not_configured: no such profile, or no secrets
	ErrRejected         = errors.New("credentials rejected by line works") // code rejected
	ErrUnavailable      = errors.New("line works unavailable")             // code unavailable: and no valid token cached
	ErrKeyring          = errors.New("keyring unavailable")                // code keyring: and nothing in memory
	ErrProtocol         = errors.New("unexpected reply from the daemon")   // codes internal, unknown_route, unknown ones; a malformed reply
)

// Error is a failure reported by the daemon (or the dial), with a hint for the user.
type Error struct {
	// Code is the daemon's error code (docs/protocol.md: "bad_request", "forbidden",
	// "not_configured", "rejected", "unavailable", "keyring", "internal", "unknown_route"),
	// or "daemon_not_running" when the dial failed, "foreign_daemon" when another user
	// serves the socket, or "protocol" when the reply was not one the daemon sends.
	Code    string
	Message string // one lowercase line, fit to print (control characters removed)
	Hint    string // what to do about it, fit to print; may be empty
	Err     error  // the sentinel: ErrProtocol for "internal", "unknown_route" and codes this version does not know
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// errorFrom is the *Error for an error reply of the daemon.
func errorFrom(we *wire.Error) *Error {
	return &Error{Code: we.Code, Message: printable(we.Error), Hint: printable(we.Hint), Err: sentinel(we.Code)}
}

func sentinel(code string) error {
	switch code {
	case wire.CodeBadRequest:
		return ErrBadRequest
	case wire.CodeForbidden:
		return ErrForbidden
	case wire.CodeNotConfigured:
		return ErrNotConfigured
	case wire.CodeRejected:
		return ErrRejected
	case wire.CodeUnavailable:
		return ErrUnavailable
	case wire.CodeKeyring:
		return ErrKeyring
	}
	return ErrProtocol
}

// Client talks to one daemon. The zero value is usable.
type Client struct {
	// SocketPath is the daemon's socket; "" means DefaultSocketPath().
	SocketPath string
	// Timeout bounds a whole call when ctx has no earlier deadline; 0 means 60 s (a cold
	// token may wait on LINE WORKS).
	Timeout time.Duration
}

// TokenRequest says which token to get. Zero fields mean the defaults: the profile from
// $LWTOKEN_HELPER_PROFILE or the daemon's default, the profile's scopes, no minimum TTL.
type TokenRequest struct {
	Profile string
	Scope   string // space- or comma-separated subset of the profile's scopes
	MinTTL  time.Duration
}

// Token returns a valid access token for req: the daemon's cached one, or one it mints
// first (only then does the call wait on LINE WORKS). Errors match the sentinels above.
func (c *Client) Token(ctx context.Context, req TokenRequest) (*Token, error) {
	return c.token(ctx, tokenQuery(req))
}

// token asks RouteToken with query q.
func (c *Client) token(ctx context.Context, q url.Values) (*Token, error) {
	t := new(Token)
	if err := c.do(ctx, wire.RouteToken, q, t); err != nil {
		return nil, err
	}
	return t, nil
}

// Status returns the daemon's state and that of every token it caches. The daemon answers
// from memory: the call never reads the keyring or reaches LINE WORKS. Errors match the
// sentinels above.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s wire.Status
	if err := c.do(ctx, wire.RouteStatus, nil, &s); err != nil {
		return nil, err
	}
	return statusFrom(&s), nil
}

// Reload asks the daemon to re-read its config and credentials.
func (c *Client) Reload(ctx context.Context) error {
	return c.do(ctx, wire.RouteReload, nil, nil)
}

// DefaultSocketPath returns the socket a zero Client uses, the one the daemon listens on
// by default: $LWTOKEN_HELPER_SOCKET if set; else on Linux $XDG_RUNTIME_DIR/lwtoken-helper/sock,
// /run/user/UID/lwtoken-helper/sock when XDG_RUNTIME_DIR is unset (cron) and that directory
// is the user's, else /tmp/lwtoken-helper-UID/sock; on macOS /tmp/lwtoken-helper-UID/sock;
// on Windows %LOCALAPPDATA%\lwtoken-helper\sock.
func DefaultSocketPath() string { return wire.DefaultSocketPath() }

func (c *Client) socket() string {
	if c.SocketPath != "" {
		return c.SocketPath
	}
	return wire.DefaultSocketPath()
}

// do sends route rt with query q (nil: none) and decodes the reply into out (nil: none).
func (c *Client) do(ctx context.Context, rt wire.Route, q url.Values, out any) error {
	path := rt.Path
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sock := c.socket()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "unix", sock)
	if err != nil {
		return &Error{Code: "daemon_not_running", Err: ErrDaemonNotRunning,
			Message: fmt.Sprintf("cannot reach the daemon at %s: %s", sock, dialReason(err)),
			Hint:    "start it with `lwtoken-helperd run` (or `lwtoken-helperd start` if installed as a service), or set " + wire.EnvSocket}
	}
	defer conn.Close()
	if err := checkServer(conn, sock); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	status, body, err := roundTrip(conn, rt.Method, path)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return &Error{Code: "protocol", Err: ErrProtocol, Message: "no usable reply from the daemon at " + sock + ": " + err.Error(),
			Hint: "check that the path is lwtoken-helperd's socket; `lwtoken-helperd run` logs why it refused a connection"}
	}
	if status/100 != 2 {
		var we wire.Error
		if json.Unmarshal(body, &we) != nil || we.Error == "" {
			return &Error{Code: "protocol", Err: ErrProtocol, Message: fmt.Sprintf("the daemon answered status %d with no error body", status)}
		}
		return errorFrom(&we)
	}
	if out == nil {
		return nil
	}
	return decodeReply(body, out)
}

// decodeReply decodes a successful reply into out. A token must be a valid access token
// (wire.ValidAccessToken); every string is then made printable (scrub).
func decodeReply(body []byte, out any) error {
	t, isToken := out.(*Token)
	var err error
	if isToken {
		err = decodeToken(body, t) // the hot path of `get`: see tokenjson.go
	} else {
		err = json.Unmarshal(body, out)
	}
	if err != nil {
		return &Error{Code: "protocol", Err: ErrProtocol, Message: "cannot decode the daemon's reply: " + printable(err.Error())}
	}
	if isToken && !wire.ValidAccessToken(t.AccessToken) {
		*t = Token{}
		return &Error{Code: "protocol", Err: ErrProtocol, Message: "the daemon sent a malformed access token: refusing to use it",
			Hint: "check that the socket is lwtoken-helperd's; `lwtoken-helper revoke` drops a cached token"}
	}
	scrub(out) // about 0.2 µs for a token: no copy of printable ASCII
	return nil
}

func dialReason(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
