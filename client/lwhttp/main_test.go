package lwhttp_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/daemontest"
)

// shared is the daemon the examples talk to through the zero client.Client: TestMain
// points LWTOKEN_HELPER_SOCKET at it, as a user's session would.
var shared *daemontest.Env

// api stands for https://www.worksapis.com/v1.0 in the examples: the fake resource API,
// which answers 200 {"ok":true} to a valid token (201 to a bot message send) and 401 or
// 403 UNAUTHORIZED to any other.
var api string

func TestMain(m *testing.M) {
	var err error
	shared, err = daemontest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemontest:", err)
		os.Exit(1)
	}
	api = shared.API
	os.Setenv("LWTOKEN_HELPER_SOCKET", shared.Socket)
	os.Unsetenv("LWTOKEN_HELPER_PROFILE")
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// revokeTheCurrentToken stands for what happens outside the program: an admin revokes
// the app's token in the Developer Console an hour after it was issued.
func revokeTheCurrentToken() {
	c := client.Client{}
	t, err := c.Token(context.Background(), client.TokenRequest{})
	if err != nil {
		panic(err)
	}
	shared.Advance(time.Hour)
	if err := shared.Revoke("default", t.AccessToken); err != nil {
		panic(err)
	}
}
