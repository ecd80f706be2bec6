package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func prog(out *bytes.Buffer) *Program[*bytes.Buffer] {
	return &Program[*bytes.Buffer]{Name: "p", Commands: []Command[*bytes.Buffer]{
		{"hello", "say hello", func(_ context.Context, w *bytes.Buffer, args []string) int {
			fs := NewFlags(w, "p", "hello", "hello [--name N]", "p hello --name x")
			name := fs.String("name", "world", "who")
			if code, ok := Parse(w, "p", fs, args); !ok {
				return code
			}
			w.WriteString("hello " + *name + "\n")
			return ExitOK
		}},
		{"version", "print the version", func(_ context.Context, w *bytes.Buffer, _ []string) int {
			w.WriteString(VersionString("dev", "abc") + "\n")
			return ExitOK
		}},
	}, Footer: func(w io.Writer) { io.WriteString(w, "footer\n") }}
}

func TestMain_Dispatch(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
		not  string
	}{
		{[]string{"hello"}, 0, "hello world\n", ""},
		{[]string{"hello", "--name", "x"}, 0, "hello x\n", ""},
		{nil, 2, "usage: p <command>", ""},
		{[]string{"--help"}, 0, "footer", ""},
		{[]string{"--version"}, 0, "dev (abc) go", ""},
		{[]string{"frob"}, 2, `p: error: unknown command "frob"`, ""},
		{[]string{"Sup3rS3cretValue"}, 2, "unknown command (16 characters, not shown)", "Sup3rS3cret"},
		{[]string{"hello", "s3cret-arg"}, 2, "unexpected argument (10 characters, not shown)", "s3cret"},
		{[]string{"hello", "--nope=s3cret"}, 2, "p: hint: run `p hello -h`", ""},
		{[]string{"hello", "-name"}, 2, "flag needs an argument", ""},
	} {
		var b bytes.Buffer
		code := prog(&b).Main(context.Background(), &b, &b, &b, tc.args)
		if code != tc.code || !strings.Contains(b.String(), tc.want) || (tc.not != "" && strings.Contains(b.String(), tc.not)) {
			t.Errorf("%q: code %d output %q; want %d containing %q without %q", tc.args, code, b.String(), tc.code, tc.want, tc.not)
		}
	}
}

func TestHelpPrintedOnce(t *testing.T) {
	var b bytes.Buffer
	if code := prog(&b).Main(context.Background(), &b, &b, &b, []string{"hello", "-h"}); code != 0 {
		t.Fatal(code)
	}
	if n := strings.Count(b.String(), "usage: p hello"); n != 1 {
		t.Fatalf("usage printed %d times:\n%s", n, b.String())
	}
	if !strings.Contains(b.String(), "example:\n  p hello --name x") {
		t.Fatalf("no example:\n%s", b.String())
	}
}

func TestBadFlagValueNotEchoed(t *testing.T) {
	var b bytes.Buffer
	fs := NewFlags(&b, "p", "x", "x", "")
	fs.Int("n", 0, "")
	fs.Bool("b", false, "")
	for _, args := range [][]string{{"-n", "Sup3rS3cret"}, {"-b=Sup3rS3cret"}} {
		b.Reset()
		if code, ok := Parse(&b, "p", fs, args); ok || code != ExitUsage {
			t.Fatal("bad value accepted")
		}
		if strings.Contains(b.String(), "Sup3rS3cret") {
			t.Fatalf("value echoed: %s", b.String())
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := OneLine(" a\n b\t\tc "); got != "a b c" {
		t.Fatal(got)
	}
}

func TestWithoutFlagValue(t *testing.T) {
	for in, want := range map[string]string{
		`invalid value "s3cr\"et" for flag -n: parse error`:  `invalid value for flag -n: parse error`,
		`invalid boolean value "s3cret" for -b: parse error`: `invalid boolean value for -b: parse error`,
		`bad flag syntax: ---s3cret`:                         `bad flag syntax (9 characters, not shown)`,
		`flag provided but not defined: -nope`:               `flag provided but not defined: -nope`,
		`invalid value "unterminated`:                        `invalid value`,
	} {
		if got := withoutFlagValue(in); got != want {
			t.Errorf("withoutFlagValue(%q) = %q, want %q", in, got, want)
		}
	}
}
