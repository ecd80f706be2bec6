package wire

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// docs/protocol.md documents the whole protocol: every route of Routes with each of its
// parameters, every JSON field of every reply (nested ones too), every error code, and
// every token state and health. A field, route or code added here without a line there
// fails this test.
func TestProtocolDocCoversTheProtocol(t *testing.T) {
	b, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	need := func(what, text string) {
		t.Helper()
		if !strings.Contains(doc, text) {
			t.Errorf("docs/protocol.md does not document %s (no %q)", what, text)
		}
	}
	for _, rt := range Routes {
		need("route "+rt.Pattern(), "| `"+rt.Pattern()+"` |")
		need("the section of "+rt.Pattern(), "\n### "+rt.Pattern()+"\n")
		for _, p := range rt.Params {
			need("parameter "+p+" of "+rt.Pattern(), "| `"+p+"` |")
		}
	}
	for _, reply := range []any{Token{}, Status{}, Profiles{}, Revoked{}, Reloaded{}, Error{}} {
		for _, f := range jsonFields(reflect.TypeOf(reply)) {
			need("field "+f, "| `"+f+"` |")
		}
	}
	for _, code := range Codes {
		need("error code "+code, "| `"+code+"` |")
	}
	for _, s := range []string{StateValid, StateExpired, StateMissing, HealthOK, HealthRenewing, HealthRetrying, HealthRejected} {
		need("state or health "+s, "`"+s+"`")
	}
	need("the protocol version", `"version": "`+Version+`"`)
}

// jsonFields lists the JSON names of t's fields and, recursively, of the structs they hold
// (the document has one table per object).
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
		out = append(out, jsonFields(f.Type)...)
	}
	return out
}
