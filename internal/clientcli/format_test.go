package clientcli

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
)

func TestWriteToken(t *testing.T) {
	tok := &client.Token{AccessToken: "tok-en_1", TokenType: "Bearer", Scope: "bot user.read",
		ExpiresAt: time.Date(2026, 11, 27, 20, 35, 12, 987654321, time.FixedZone("KST", 9*3600)), Profile: "default"}
	for _, tc := range []struct{ format, want string }{
		{"token", "tok-en_1\n"},
		{"header", "Authorization: Bearer tok-en_1\n"},
		{"json", `{"token":"tok-en_1","token_type":"Bearer","scope":"bot user.read","expires_at":"2026-11-27T11:35:12Z","profile":"default"}` + "\n"},
		{"env", "export LWTOKEN_HELPER_TOKEN='tok-en_1'\nexport LWTOKEN_HELPER_TOKEN_EXPIRES_AT='2026-11-27T11:35:12Z'\n"},
	} {
		var b bytes.Buffer
		if err := writeToken(&b, tc.format, tok); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.format, b.String(), tc.want)
		}
	}
	var b bytes.Buffer
	writeToken(&b, "json", &client.Token{AccessToken: "x"})
	var j tokenJSON
	if json.Unmarshal(b.Bytes(), &j) != nil || j.TokenType != "Bearer" {
		t.Errorf("a token with no type is a Bearer token: %s", b.String())
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "abc": "'abc'", "a'b": `'a'\''b'`, "$(x) `y`": "'$(x) `y`'"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
