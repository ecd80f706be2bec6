// Package lwhttp plugs lwtoken-helperd into Go's HTTP and OAuth 2 stacks: an
// oauth2.TokenSource backed by the daemon, and an http.RoundTripper that authorizes each
// request with the daemon's token and, when the resource server refuses it (401, or 403
// with code UNAUTHORIZED), gets a fresh token from the daemon and retries once.
//
// It lives apart from package client, which does not link net/http, so that programs that
// only need a token string (like the lwtoken-helper CLI) stay small and start fast.
package lwhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/lwtoken-helper/lwtoken-helper/client"
)

// TokenSource returns an oauth2.TokenSource that asks the daemon for req's token at every
// call; ctx bounds each call (nil means context.Background). c nil means a zero
// client.Client, which finds the socket like the CLI does. The daemon caches the token and
// renews it well before it expires, so each call is one round trip over the Unix socket
// (about a millisecond) and never waits on LINE WORKS unless the cache is cold. Wrap it in
// oauth2.ReuseTokenSource to keep the token in the process until it is close to expiry.
//
// The returned tokens carry Expiry and the extras "scope" and "profile". Errors match
// the client package's sentinels (errors.Is(err, client.ErrDaemonNotRunning), ...).
func TokenSource(ctx context.Context, c *client.Client, req client.TokenRequest) oauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	if c == nil {
		c = &client.Client{}
	}
	return &tokenSource{ctx: ctx, c: c, req: req}
}

type tokenSource struct {
	ctx context.Context
	c   *client.Client
	req client.TokenRequest
}

func (s *tokenSource) Token() (*oauth2.Token, error) {
	t, err := s.c.Token(s.ctx, s.req)
	if err != nil {
		return nil, fmt.Errorf("lwhttp: %w", err)
	}
	return oauthToken(t), nil
}

func oauthToken(t *client.Token) *oauth2.Token {
	typ := t.TokenType
	if typ == "" {
		typ = "Bearer"
	}
	return (&oauth2.Token{AccessToken: t.AccessToken, TokenType: typ, Expiry: t.ExpiresAt}).
		WithExtra(map[string]any{"scope": t.Scope, "profile": t.Profile})
}

// Transport is an http.RoundTripper that sends each request with
// "Authorization: Bearer <token>", the token coming from the daemon. When the answer is
// 401, or 403 with the JSON code "UNAUTHORIZED" (what LINE WORKS answers for an expired or
// revoked token), it reports the token to the daemon (client.Client.Renew), which renews it
// once however many requests report it, and sends the request again, once, with the new
// token. Only a request whose body can be replayed is retried: no body, or a GetBody
// (http.NewRequest sets it for bytes and strings readers); any other keeps the first answer.
//
// It authorizes every request it carries, redirects included: use it only in a client
// meant for the LINE WORKS API. The zero Transport is ready to use.
type Transport struct {
	// Client reaches the daemon; nil means a zero client.Client.
	Client *client.Client
	// Request says which token to use (profile, scopes, minimum TTL); zero means the defaults.
	Request client.TokenRequest
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// NewClient returns an *http.Client whose requests carry the daemon's token for req
// (see Transport). c nil means a zero client.Client.
func NewClient(c *client.Client, req client.TokenRequest) *http.Client {
	return &http.Client{Transport: &Transport{Client: c, Request: req}}
}

// maxErrorBody bounds how much of a 403 body is read to look for the UNAUTHORIZED code.
const maxErrorBody = 64 << 10

// RoundTrip implements http.RoundTripper. It does not modify req. A failure to get a token
// is returned as an error wrapping the client package's sentinel; the request is then
// not sent.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.Client
	if c == nil {
		c = &client.Client{}
	}
	ctx := req.Context()
	tok, err := c.Token(ctx, t.Request)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("lwhttp: %w", err)
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	resp, err := t.base().RoundTrip(authorized(req, tok.AccessToken, req.Body))
	if err != nil || !refused(resp) || !replayable {
		return resp, err
	}
	fresh, rerr := c.Renew(ctx, t.Request, tok.AccessToken)
	if rerr != nil || fresh.AccessToken == tok.AccessToken {
		// No other token to try: the first answer is the truest one.
		return resp, nil
	}
	var body io.ReadCloser
	if req.Body != nil && req.Body != http.NoBody {
		if body, rerr = req.GetBody(); rerr != nil {
			return resp, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return t.base().RoundTrip(authorized(req, fresh.AccessToken, body))
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// authorized returns a copy of req with the bearer token and body.
func authorized(req *http.Request, token string, body io.ReadCloser) *http.Request {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	r.Body = body
	return r
}

// refused reports whether resp says the token is no good: 401, or 403 whose JSON body has
// code "UNAUTHORIZED". It reads at most maxErrorBody bytes of a 403 body and puts them
// back, so the caller still reads the whole body.
func refused(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
	default:
		return false
	}
	if resp.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	var e struct {
		Code string `json:"code"`
	}
	return json.Unmarshal(head, &e) == nil && e.Code == "UNAUTHORIZED"
}
