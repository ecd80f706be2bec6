package lwhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/client/lwhttp"
)

// A Transport authorizes every request with the daemon's token. The zero Transport uses
// the default profile and finds the daemon's socket like the CLI does.
func ExampleTransport() {
	hc := &http.Client{Transport: &lwhttp.Transport{}}
	resp, err := hc.Get(api + "/users/me") // api: https://www.worksapis.com/v1.0
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK {"ok":true}
}

// When the API refuses the token (401, or 403 with code UNAUTHORIZED), the Transport
// reports it to the daemon, which renews it once for all its clients, and retries the
// request once with the new token.
func ExampleTransport_refusedToken() {
	hc := lwhttp.NewClient(nil, client.TokenRequest{})
	revokeTheCurrentToken()
	resp, err := hc.Get(api + "/users/me")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// NewClient picks a profile and scopes; a request for scopes outside the profile's fails
// before anything is sent.
func ExampleNewClient() {
	hc := lwhttp.NewClient(nil, client.TokenRequest{Scope: "bot"})
	resp, err := hc.Get(api + "/bots")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	hc = lwhttp.NewClient(nil, client.TokenRequest{Scope: "calendar"})
	_, err = hc.Get(api + "/users/me/calendar")
	var ce *client.Error
	if errors.As(err, &ce) && errors.Is(err, client.ErrBadRequest) {
		fmt.Println(ce.Message)
	}
	// Output:
	// 200 OK
	// scope "calendar" is not among profile "default"'s scopes (bot user.read)
}

// TokenSource plugs the daemon into golang.org/x/oauth2: here, oauth2.NewClient, which
// keeps the token in the process until it is about to expire.
func ExampleTokenSource() {
	ctx := context.Background()
	ts := lwhttp.TokenSource(ctx, nil, client.TokenRequest{MinTTL: 10 * time.Minute})
	tok, err := ts.Token()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Valid(), tok.Type(), tok.Extra("scope"), tok.Extra("profile"))

	hc := oauth2.NewClient(ctx, ts)
	resp, err := hc.Get(api + "/users/me")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// true Bearer bot user.read default
	// 200 OK
}
