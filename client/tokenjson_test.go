package client

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// tokenJSONCases are replies decodeToken must decode exactly like json.Unmarshal; fast says
// which of them the hand-written path takes (the others fall back).
var tokenJSONCases = []struct {
	body string
	fast bool
}{
	{`{"access_token":"tok","token_type":"Bearer","scope":"bot user.read","expires_at":"2030-01-02T03:04:05Z","profile":"default"}` + "\n", true},
	{`{"profile":"p","access_token":"a"}`, true},
	{`{}`, true},
	{`{"expires_at":"2030-01-02T03:04:05.123456789+09:00"}`, true},
	{`{"access_token":"a\"b"}`, false},
	{`{"access_token":"\u00e9"}`, false},
	{`{"access_token":"é"}`, false},
	{`{"access_token":"a", "scope":"b"}`, false},
	{` {"access_token":"a"}`, false},
	{`{"access_token":"a","access_token":"b"}`, false},
	{`{"Access_Token":"a"}`, false},
	{`{"access_token":"a","new_field":{"x":[1,2]}}`, false},
	{`{"access_token":"a","ttl":3}`, false},
	{`{"access_token":null}`, false},
	{`{"expires_at":"tomorrow"}`, false},
	{`{"expires_at":"2030-01-02 03:04:05Z"}`, false},
	{`{"access_token":"a",}`, false},
	{`{"access_token":"a"}x`, false},
	{`{"access_token":"a"`, false},
	{`{"access_token"`, false},
	{`[]`, false},
	{``, false},
	{`{"access_token":"a"}` + "\n\n", true},
}

func TestDecodeTokenMatchesEncodingJSON(t *testing.T) {
	for _, c := range tokenJSONCases {
		var fast Token
		if got := decodeTokenFast([]byte(c.body), &fast); got != c.fast {
			t.Errorf("decodeTokenFast(%q) = %v, want %v", c.body, got, c.fast)
		}
		checkDecodeToken(t, []byte(c.body))
	}
}

func FuzzDecodeToken(f *testing.F) {
	for _, c := range tokenJSONCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(checkDecodeToken)
}

// checkDecodeToken fails unless decodeToken and json.Unmarshal agree on body: both fail, or
// both give the same token.
func checkDecodeToken(t *testing.T, body []byte) {
	var got Token
	var w wire.Token
	gotErr := decodeToken(body, &got)
	wantErr := json.Unmarshal(body, &w)
	want := tokenFrom(&w)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("body %q: decodeToken error %v, json.Unmarshal error %v", body, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	same := func(a, b time.Time) bool {
		return a.Equal(b) && a.Format(time.RFC3339Nano) == b.Format(time.RFC3339Nano)
	}
	if got.AccessToken != want.AccessToken || got.TokenType != want.TokenType || got.Scope != want.Scope ||
		got.Profile != want.Profile || !same(got.ExpiresAt, want.ExpiresAt) {
		t.Fatalf("body %q: decodeToken %+v, json.Unmarshal %+v", body, got, want)
	}
}

// The daemon's token reply, with every field of wire.Token set, takes the fast path: a
// field added to the protocol must be taught to decodeTokenFast, or every `get` would pay
// for encoding/json again.
func TestDecodeTokenFastKnowsEveryField(t *testing.T) {
	var w wire.Token
	n := 0
	fill(reflect.ValueOf(&w).Elem(), &n)
	body, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var got Token
	if !decodeTokenFast(body, &got) {
		t.Fatalf("decodeTokenFast refuses the daemon's reply %s: teach it the new field", body)
	}
	if got != tokenFrom(&w) {
		t.Fatalf("decodeTokenFast(%s) = %+v, want %+v", body, got, tokenFrom(&w))
	}
}
