package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/daemontest"
)

// TestMain starts a real daemon (against the fake LINE WORKS endpoint) and points
// LWTOKEN_HELPER_SOCKET at it, as a user's session would, for the examples' zero clients.
func TestMain(m *testing.M) {
	env, err := daemontest.Start("default", "gov")
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemontest:", err)
		os.Exit(1)
	}
	os.Setenv("LWTOKEN_HELPER_SOCKET", env.Socket)
	os.Unsetenv("LWTOKEN_HELPER_PROFILE")
	code := m.Run()
	env.Close()
	os.Exit(code)
}

// The zero Client finds the daemon's socket like the CLI does and asks for the default
// profile's token.
func ExampleClient_Token() {
	var c client.Client
	t, err := c.Token(context.Background(), client.TokenRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.TokenType, t.Scope, t.Profile, time.Until(t.ExpiresAt) > 23*time.Hour)
	// use it: req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	// Output: Bearer bot user.read default true
}

// A token for another profile, a subset of its scopes, valid for at least an hour.
func ExampleClient_Token_profileAndScope() {
	var c client.Client
	t, err := c.Token(context.Background(), client.TokenRequest{Profile: "gov", Scope: "bot", MinTTL: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Profile, t.Scope)
	// Output: gov bot
}

// Errors match sentinels: a missing daemon, an unknown profile, a scope outside the
// profile's. Each carries a hint for the user.
func ExampleClient_Token_errors() {
	ctx := context.Background()
	var c client.Client
	_, err := c.Token(ctx, client.TokenRequest{Profile: "nope"})
	fmt.Println(errors.Is(err, client.ErrNotConfigured))
	_, err = c.Token(ctx, client.TokenRequest{Scope: "calendar"})
	fmt.Println(errors.Is(err, client.ErrBadRequest))
	nowhere := client.Client{SocketPath: filepath.Join(os.TempDir(), "no-such-dir", "sock")}
	_, err = nowhere.Token(ctx, client.TokenRequest{})
	var ce *client.Error
	fmt.Println(errors.Is(err, client.ErrDaemonNotRunning), errors.As(err, &ce) && ce.Hint != "")
	// Output:
	// true
	// true
	// true true
}

// Renew is for a program that talks to the API itself: when the API refuses a token
// (401, or 403 with code UNAUTHORIZED), report it and retry once with what comes back.
func ExampleClient_Renew() {
	ctx := context.Background()
	var c client.Client
	t, err := c.Token(ctx, client.TokenRequest{})
	if err != nil {
		log.Fatal(err)
	}
	// ... the API answered 401 to t.AccessToken ...
	fresh, err := c.Renew(ctx, client.TokenRequest{}, t.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	// Here the token was minted a moment ago, so the daemon keeps it: a server that
	// refuses every token cannot make it mint in a loop. An older one would be replaced.
	fmt.Println(fresh.AccessToken == t.AccessToken)
	// Output: true
}

// Profiles lists the configured profiles and the state of their tokens, from the
// daemon's memory only.
func ExampleClient_Profiles() {
	var c client.Client
	ps, err := c.Profiles(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range ps.Profiles {
		fmt.Println(p.Name, p.Default, p.Scopes)
	}
	// Output:
	// default true [bot user.read]
	// gov false [bot user.read]
}

// Status shows every token the daemon caches and how its renewal goes, without the
// tokens themselves; it never makes the daemon read the keyring or call LINE WORKS.
func ExampleClient_Status() {
	ctx := context.Background()
	var c client.Client
	if _, err := c.Token(ctx, client.TokenRequest{}); err != nil {
		log.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Default, st.Profiles, st.Keyring)
	for _, e := range st.Entries {
		if e.Profile != "default" {
			continue
		}
		fmt.Printf("%s %q %s %s, renewed before it expires: %v\n", e.Profile, e.Scope, e.State, e.Health,
			e.NextRenewal.Before(e.ExpiresAt))
		if e.State == client.StateValid && e.Health != client.HealthOK {
			fmt.Println("still served, but renewal fails:", e.LastError)
		}
	}
	// Output:
	// default [default gov] ok
	// default "bot user.read" valid ok, renewed before it expires: true
}

// Revoke revokes a profile's tokens at LINE WORKS and drops them; the next Token call
// mints a new one.
func ExampleClient_Revoke() {
	ctx := context.Background()
	var c client.Client
	t, err := c.Token(ctx, client.TokenRequest{Profile: "gov"})
	if err != nil {
		log.Fatal(err)
	}
	r, err := c.Revoke(ctx, "gov")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Profile, slices.Contains(r.Fingerprints, t.Fingerprint()))
	fresh, err := c.Token(ctx, client.TokenRequest{Profile: "gov"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fresh.AccessToken != t.AccessToken)
	// Output:
	// gov true
	// true
}

// A Token prints and logs without its secret; use AccessToken to authorize a request.
func ExampleToken() {
	t := client.Token{AccessToken: "kWxTjV2oQ9sPq4Zc", TokenType: "Bearer", Scope: "bot", Profile: "default",
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	fmt.Println(t)
	// Output: Bearer token of profile "default" (scope "bot", fingerprint 1ceb9039, expires 2030-01-02T03:04:05Z)
}
