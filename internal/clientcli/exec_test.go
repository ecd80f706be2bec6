package clientcli

import (
	"slices"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
)

func TestChildEnv(t *testing.T) {
	tok := &client.Token{AccessToken: "new", ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Profile: "gov"}
	got := childEnv([]string{"PATH=/bin", "LWTOKEN_HELPER_TOKEN=old", "LWTOKEN_HELPER_PROFILE=default", "LWTOKEN_HELPER_TOKEN_EXPIRES_AT=x", "LWTOKEN_HELPER_SOCKET=/s", "HOME=/h"}, tok)
	want := []string{"PATH=/bin", "LWTOKEN_HELPER_SOCKET=/s", "HOME=/h", "LWTOKEN_HELPER_TOKEN=new", "LWTOKEN_HELPER_TOKEN_EXPIRES_AT=2026-01-02T03:04:05Z", "LWTOKEN_HELPER_PROFILE=gov"}
	if !slices.Equal(got, want) {
		t.Fatalf("childEnv:\n got %q\nwant %q", got, want)
	}
}
