package client

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// Every reply type of the protocol and the conversion to the client's type. A field the
// daemon adds to a wire type must reach the caller: TestRepliesKeepEveryWireField fails
// until the client type has it (with the same JSON name) and the conversion copies it.
var replyConversions = []struct {
	wire    any // a pointer to a wire reply type
	convert func(any) any
}{
	{&wire.Token{}, func(w any) any { t := tokenFrom(w.(*wire.Token)); return &t }},
	{&wire.Status{}, func(w any) any { return statusFrom(w.(*wire.Status)) }},
	{&wire.Profiles{}, func(w any) any { return profilesFrom(w.(*wire.Profiles)) }},
	{&wire.Revoked{}, func(w any) any { return revokedFrom(w.(*wire.Revoked)) }},
}

// TestRepliesKeepEveryWireField fills every field of each wire reply (nested ones too)
// with a distinct value, converts it, and checks that the client type marshals to the
// same JSON: same names, same values, nothing dropped, nothing added. The zero reply must
// marshal the same too (omitempty and omitzero agree).
func TestRepliesKeepEveryWireField(t *testing.T) {
	for _, rc := range replyConversions {
		name := reflect.TypeOf(rc.wire).Elem().String()
		for _, filled := range []bool{true, false} {
			w := reflect.New(reflect.TypeOf(rc.wire).Elem())
			if filled {
				n := 0
				fill(w.Elem(), &n)
			}
			c := rc.convert(w.Interface())
			wantJSON, gotJSON := jsonMap(t, w.Interface()), jsonMap(t, c)
			if !reflect.DeepEqual(wantJSON, gotJSON) {
				t.Errorf("%s (filled %v) converted to %T loses or changes fields:\n%s", name, filled, c,
					jsonDiff("", wantJSON, gotJSON))
			}
		}
	}
}

// fill sets every field reachable from v to a non-zero value, distinct per field.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), n)
		fill(v.Index(1), n)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2030, 1, 2, 3, 4, *n%60, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	default:
		panic(fmt.Sprintf("fill: no rule for %s; add one", v.Type()))
	}
}

func jsonMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// jsonDiff lists the keys whose values differ between want (the wire type's JSON) and got.
func jsonDiff(path string, want, got any) string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if !wok || !gok {
		ws, wsok := want.([]any)
		gs, gsok := got.([]any)
		if wsok && gsok && len(ws) == len(gs) {
			var out strings.Builder
			for i := range ws {
				out.WriteString(jsonDiff(fmt.Sprintf("%s[%d]", path, i), ws[i], gs[i]))
			}
			return out.String()
		}
		if reflect.DeepEqual(want, got) {
			return ""
		}
		return fmt.Sprintf("  %s: wire %v, client %v\n", path, want, got)
	}
	keys := map[string]bool{}
	for k := range wm {
		keys[k] = true
	}
	for k := range gm {
		keys[k] = true
	}
	var out strings.Builder
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		w, inW := wm[k]
		g, inG := gm[k]
		switch {
		case !inG:
			fmt.Fprintf(&out, "  %s.%s: missing from the client type (add the field, same JSON name, and copy it in types.go)\n", path, k)
		case !inW:
			fmt.Fprintf(&out, "  %s.%s: not in the wire type\n", path, k)
		default:
			out.WriteString(jsonDiff(path+"."+k, w, g))
		}
	}
	return out.String()
}

// The daemon's error body reaches the caller whole: each field of wire.Error ends up in
// the *Error the call returns.
func TestErrorKeepsEveryWireField(t *testing.T) {
	var we wire.Error
	v := reflect.ValueOf(&we).Elem()
	var marks []string
	for i := range v.NumField() {
		if v.Field(i).Kind() != reflect.String {
			t.Fatalf("wire.Error.%s is not a string: extend this test and errorFrom", v.Type().Field(i).Name)
		}
		mark := "mark-" + v.Type().Field(i).Name
		v.Field(i).SetString(mark)
		marks = append(marks, mark)
	}
	e := errorFrom(&we)
	got := fmt.Sprintf("%+v", *e)
	for _, m := range marks {
		if !strings.Contains(got, m) {
			t.Errorf("errorFrom drops %s: %s", m, got)
		}
	}
}

// The client's state and health constants are the protocol's.
func TestStatesAreTheProtocols(t *testing.T) {
	for _, p := range [][2]string{
		{string(StateValid), wire.StateValid}, {string(StateExpired), wire.StateExpired}, {string(StateMissing), wire.StateMissing},
		{string(HealthOK), wire.HealthOK}, {string(HealthRenewing), wire.HealthRenewing}, {string(HealthRetrying), wire.HealthRetrying},
		{string(HealthRejected), wire.HealthRejected}, {KeyringOK, wire.KeyringOK},
	} {
		if p[0] != p[1] {
			t.Errorf("client constant %q, protocol %q", p[0], p[1])
		}
	}
}

// A Token printed or logged shows no secret.
func TestTokenPrintsNoSecret(t *testing.T) {
	tok := Token{AccessToken: "kWxTjV2oQ9sPq4ZcYb8nRm3LdA7fHgE1", TokenType: "Bearer", Scope: "bot", Profile: "default",
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("got", "token", tok, "ptr", &tok)
	for _, out := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q %x", tok, tok, tok, tok, tok, tok),
		fmt.Sprint(&tok), fmt.Sprintf("%+v %#v", &tok, &tok), fmt.Sprint([]Token{tok}), logged.String()} {
		if strings.Contains(out, tok.AccessToken) || strings.Contains(out, fmt.Sprintf("%x", tok.AccessToken)) {
			t.Fatalf("the secret shows: %s", out)
		}
		if !strings.Contains(out, tok.Fingerprint()) {
			t.Fatalf("no fingerprint in %s", out)
		}
	}
}
