package lwauth

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
)

func TestNewAssertion(t *testing.T) {
	a, err := NewAssertion(testCreds(), t0)
	if err != nil {
		t.Fatal(err)
	}
	segs := strings.Split(a, ".")
	if len(segs) != 3 || strings.ContainsAny(a, "=+/") {
		t.Fatalf("assertion is not three unpadded base64url segments: %d segments", len(segs))
	}
	header, err := base64.RawURLEncoding.DecodeString(segs[0])
	if err != nil || string(header) != `{"alg":"RS256","typ":"JWT"}` {
		t.Errorf("header %s, %v", header, err)
	}
	claimsJSON, err := base64.RawURLEncoding.DecodeString(segs[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(claimsJSON, &claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"iss": `"` + testClientID + `"`,
		"sub": `"` + testServiceAccount + `"`,
		"iat": "1740819590", // t0 - 10 s, an integer
		"exp": "1740820200", // t0 + 10 min
	}
	if len(claims) != len(want) {
		t.Errorf("claims %s, want exactly iss, sub, iat, exp", claimsJSON)
	}
	for k, v := range want {
		if string(claims[k]) != v {
			t.Errorf("claim %s = %s, want %s", k, claims[k], v)
		}
	}
	if t0.Unix() != 1740819600 {
		t.Fatalf("t0 moved: %d", t0.Unix())
	}
	_, err = jwt.Parse(a, func(*jwt.Token) (any, error) { return &testkey.App().PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(pinned), jwt.WithIssuedAt())
	if err != nil {
		t.Errorf("assertion does not verify: %v", err)
	}
	if _, err := jwt.Parse(a, func(*jwt.Token) (any, error) { return &testkey.Other().PublicKey, nil }); err == nil {
		t.Error("assertion verifies with another key")
	}
	if exp, iat := t0.Add(AssertionLifetime), t0.Add(-10*time.Second); exp.Sub(iat) > time.Hour {
		t.Error("exp - iat exceeds LINE WORKS' 3600 s")
	}
}

func TestNewAssertionErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Credentials)
		want   string
	}{
		{"no client id", func(cr *Credentials) { cr.ClientID = "" }, "lwauth: assertion: missing client id"},
		{"no service account", func(cr *Credentials) { cr.ServiceAccount = "" }, "lwauth: assertion: missing service account"},
		{"no key", func(cr *Credentials) { cr.PrivateKey = nil }, "lwauth: assertion: missing private key"},
	}
	for _, tt := range tests {
		cr := testCreds()
		tt.change(&cr)
		if _, err := NewAssertion(cr, t0); err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		in        string
		want      []string
		canonical string
	}{
		{"", nil, ""},
		{" , ,\t", nil, ""},
		{"bot", []string{"bot"}, "bot"},
		{"user.read bot", []string{"bot", "user.read"}, "bot user.read"},
		{"user.read,bot,,bot", []string{"bot", "user.read"}, "bot user.read"},
		{" directory.read ,  bot\nuser.read ", []string{"bot", "directory.read", "user.read"}, "bot directory.read user.read"},
	}
	for _, tt := range tests {
		got := ParseScopes(tt.in)
		if !slices.Equal(got, tt.want) {
			t.Errorf("ParseScopes(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if c := CanonicalScope([]string{tt.in}); c != tt.canonical {
			t.Errorf("CanonicalScope([%q]) = %q, want %q", tt.in, c, tt.canonical)
		}
		if c := CanonicalScope(tt.want); c != tt.canonical {
			t.Errorf("CanonicalScope(%q) = %q, want %q", tt.want, c, tt.canonical)
		}
	}
	if c := CanonicalScope([]string{"user.read", "bot", "bot,calendar"}); c != "bot calendar user.read" {
		t.Errorf("CanonicalScope = %q", c)
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"a","refresh_token":"r","scope":"bot user.read","token_type":"Bearer","expires_in":"86400"}`,
		`{"access_token":"a","expires_in":3600}`,
		`{"access_token":"a","expires_in":"3600.0"}`,
		`{"access_token":"a","expires_in":1e3}`,
		`{"access_token":null,"expires_in":null}`,
		`{"scope":["bot"],"token_type":1}`,
		`[]`, `null`, ``, `{`, `"x"`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := parseTokenResponse(body, t0, "bot")
		if err != nil {
			if tok != nil {
				t.Fatal("token and error")
			}
			return
		}
		if tok.AccessToken.IsZero() || tok.ExpiresIn <= 0 || !tok.Expiry.Equal(t0.Add(tok.ExpiresIn)) || tok.TokenType == "" {
			t.Fatalf("accepted an unusable token: %+v", tok)
		}
	})
}
