package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"

	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
)

const plain = "s3cr3t-VALUE-that-must-never-print"

// verbs are every fmt verb that could plausibly be used on a value.
var verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%10s", "%-40v", "%.3s"}

// leaks reports whether out holds the secret or an encoding of it.
func leaks(out string) bool {
	for _, enc := range []string{plain, fmt.Sprintf("%x", plain), fmt.Sprintf("%X", plain), plain[:12]} {
		if strings.Contains(out, enc) {
			return true
		}
	}
	return false
}

type exported struct {
	Name  string
	Value secret.Value
}

// unexported holds Values where fmt cannot call their methods: through reflection only.
type unexported struct {
	name  string
	value secret.Value
	ptr   *secret.Value
	list  []secret.Value
	m     map[string]secret.Value
}

func TestValueNeverPrints(t *testing.T) {
	v := secret.New(plain)
	p := &v
	for _, x := range []any{
		v, p,
		exported{"a", v}, &exported{"a", v},
		unexported{"a", v, p, []secret.Value{v}, map[string]secret.Value{"k": v}},
		&unexported{"a", v, p, []secret.Value{v}, map[string]secret.Value{"k": v}},
		[]secret.Value{v}, map[string]secret.Value{"k": v}, [1]secret.Value{v},
		struct{ inner unexported }{unexported{value: v}},
		[]any{v}, errors.New("wrapped: " + v.String()),
	} {
		for _, verb := range verbs {
			if out := fmt.Sprintf(verb, x); leaks(out) {
				t.Errorf("fmt %s of %T leaks: %s", verb, x, out)
			}
		}
		if out := fmt.Sprint(x) + fmt.Sprintln(x); leaks(out) {
			t.Errorf("Sprint of %T leaks: %s", x, out)
		}
	}
	if got := fmt.Sprintf("%v|%s|%#v|%q", v, v, v, v); got != `[redacted]|[redacted]|[redacted]|[redacted]` {
		t.Errorf("direct formatting = %q", got)
	}
	if v.String() != "[redacted]" || v.GoString() != "[redacted]" {
		t.Errorf("String %q GoString %q", v.String(), v.GoString())
	}
}

func TestValueNeverMarshals(t *testing.T) {
	v := secret.New(plain)
	for _, x := range []any{v, &v, exported{"a", v}, map[string]secret.Value{"k": v}, []secret.Value{v}} {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if leaks(string(b)) || !strings.Contains(string(b), "[redacted]") {
			t.Errorf("json of %T = %s", x, b)
		}
	}
	if b, _ := v.MarshalText(); string(b) != "[redacted]" {
		t.Errorf("MarshalText = %s", b)
	}
}

func TestValueNeverLogs(t *testing.T) {
	v := secret.New(plain)
	var buf bytes.Buffer
	for _, h := range []slog.Handler{
		slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
	} {
		l := slog.New(h)
		l.Debug("x", "v", v, "p", &v, "s", exported{"a", v}, "u", unexported{value: v}, "list", []secret.Value{v})
		l.Info("y", slog.Any("v", v), slog.Group("g", "v", v))
		l.Error(fmt.Sprintf("msg %v", v))
	}
	var lb bytes.Buffer
	log.New(&lb, "", 0).Printf("%v %+v", v, unexported{value: v})
	out := buf.String() + lb.String()
	if leaks(out) {
		t.Fatalf("logs leak:\n%s", out)
	}
	if !strings.Contains(out, "[redacted]") {
		t.Fatalf("logs lack [redacted]:\n%s", out)
	}
}

func TestValueAccessors(t *testing.T) {
	v := secret.New(plain)
	if v.Reveal() != plain || v.Len() != len(plain) || v.IsZero() {
		t.Fatalf("Reveal/Len/IsZero wrong")
	}
	if !v.Equal(secret.FromBytes([]byte(plain))) || v.Equal(secret.New(plain+"x")) || v.Equal(secret.Value{}) {
		t.Fatal("Equal wrong")
	}
	var zero secret.Value
	if !zero.IsZero() || zero.Reveal() != "" || zero.Fingerprint() != "" || !secret.New("").IsZero() || !zero.Equal(secret.New("")) {
		t.Fatal("zero value wrong")
	}
	fp := v.Fingerprint()
	if len(fp) != 8 || strings.Contains(plain, fp) || fp != secret.New(plain).Fingerprint() || fp == secret.New("other").Fingerprint() {
		t.Fatalf("fingerprint %q", fp)
	}
	// FromBytes copies: changing the slice later does not change the secret.
	b := []byte(plain)
	w := secret.FromBytes(b)
	b[0] = 'X'
	if w.Reveal() != plain {
		t.Fatal("FromBytes aliases its argument")
	}
}
