// A program of another module that names every type package client returns: it compiles
// only if none of them lives in an internal package.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"golang.org/x/oauth2"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/client/lwhttp"
)

// Each Client call, as a value of a function type spelled out here.
var (
	_ func(context.Context, client.TokenRequest) (*client.Token, error)         = (&client.Client{}).Token
	_ func(context.Context, client.TokenRequest, string) (*client.Token, error) = (&client.Client{}).Renew
	_ func(context.Context) (*client.Status, error)                             = (&client.Client{}).Status
	_ func(context.Context) (*client.Profiles, error)                           = (&client.Client{}).Profiles
	_ func(context.Context, string) (*client.Revoked, error)                    = (&client.Client{}).Revoke
	_ func(context.Context) error                                               = (&client.Client{}).Reload
	_ func() string                                                             = client.DefaultSocketPath

	_ func(context.Context, *client.Client, client.TokenRequest) oauth2.TokenSource = lwhttp.TokenSource
	_ func(*client.Client, client.TokenRequest) *http.Client                        = lwhttp.NewClient
	_ http.RoundTripper                                                             = &lwhttp.Transport{}
)

func describeToken(t *client.Token) string {
	return fmt.Sprintf("%s %s %s %s %s", t.Fingerprint(), t.TokenType, t.Scope, t.Profile, t.ExpiresAt)
}

func describeStatus(s *client.Status) string {
	out := fmt.Sprintf("%s %d %s %s %s %s %v %s %s %s\n", s.Version, s.PID, s.Socket, s.Config, s.Now, s.Keyring, s.Profiles,
		s.Default, s.SecretSource, s.TokenCache)
	for _, e := range s.Entries {
		out += describeEntry(e)
	}
	return out
}

func describeEntry(e client.TokenStatus) string {
	var state client.TokenState = e.State
	var health client.Health = e.Health
	return fmt.Sprintf("%s %s %s %s %s %s %d %s %s %s %d %s %d\n", e.Profile, e.Scope, state, health, e.Fingerprint,
		e.ExpiresAt, e.TTLSeconds, e.NextRenewal, e.LastError, e.LastErrorCode, e.ConsecutiveFailures, e.NextAttempt,
		e.UpstreamRequests)
}

func describeProfiles(ps *client.Profiles) string {
	out := ps.Default + "\n"
	for _, p := range ps.Profiles {
		out += describeProfile(p)
	}
	return out
}

func describeProfile(p client.Profile) string {
	out := fmt.Sprintf("%s %v %s %s %s %v %s %s %s %d %s %s\n", p.Name, p.Default, p.ClientID, p.ServiceAccount, p.DomainID,
		p.Scopes, p.AuthURL, p.State, p.ExpiresAt, p.TTLSeconds, p.Health, p.LastError)
	for _, e := range p.Tokens {
		out += describeEntry(e)
	}
	return out
}

func describeRevoked(r *client.Revoked) string {
	return fmt.Sprintf("%s %d %v %d", r.Profile, r.Revoked, r.Fingerprints, r.Skipped)
}

func describeError(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		return fmt.Sprintf("%s: %s (%s; %v)", ce.Code, ce.Message, ce.Hint, ce.Err)
	}
	return err.Error()
}

func main() {
	ctx := context.Background()
	var c client.Client
	t, err := c.Token(ctx, client.TokenRequest{})
	if err != nil {
		fmt.Fprintln(os.Stderr, describeError(err))
		os.Exit(1)
	}
	fmt.Println(describeToken(t))
	s, err := c.Status(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, describeError(err))
		os.Exit(1)
	}
	fmt.Print(describeStatus(s))
	ps, err := c.Profiles(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, describeError(err))
		os.Exit(1)
	}
	fmt.Print(describeProfiles(ps))
	if len(os.Args) > 1 && os.Args[1] == "revoke" {
		r, err := c.Revoke(ctx, "")
		if err != nil {
			fmt.Fprintln(os.Stderr, describeError(err))
			os.Exit(1)
		}
		fmt.Println(describeRevoked(r))
	}
}
