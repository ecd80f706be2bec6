package lwauth

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

const (
	testClientID       = "client-abc"
	testServiceAccount = "abcde.serviceaccount@example.com"
	testSecret         = "s3cr3t-CLIENT-value-42"
)

// t0 is the pinned clock of every test.
var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func pinned() time.Time { return t0 }

func testCreds() Credentials {
	return Credentials{
		ClientID:       testClientID,
		ServiceAccount: testServiceAccount,
		ClientSecret:   secret.New(testSecret),
		PrivateKey:     testkey.App(),
	}
}

// newFake starts the fake token endpoint with one app on the pinned clock and returns
// it with a Client pointed at it, also on the pinned clock.
func newFake(t *testing.T) (*lwfake.Server, *Client) {
	t.Helper()
	srv := lwfake.NewServer(t, lwfake.App{
		ClientID:       testClientID,
		ClientSecret:   testSecret,
		ServiceAccount: testServiceAccount,
		PublicKey:      &testkey.App().PublicKey,
		Scopes:         []string{"bot", "user.read", "directory.read"},
	})
	srv.SetNow(pinned)
	return srv, &Client{AuthURL: srv.AuthURL, Now: pinned}
}

// cannedServer answers every request with status, headers and body.
func cannedServer(t *testing.T, status int, header map[string]string, body string) *Client {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)
	return &Client{AuthURL: ts.URL + "/oauth2/v2.0", Now: pinned}
}

// asError returns err as *Error or fails the test.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return e
}
