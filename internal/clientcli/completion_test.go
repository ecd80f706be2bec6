package clientcli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseFlagHelp(t *testing.T) {
	help := "usage: lwtoken-helper x\n\n  -format format\n    \toutput format: token,\n    \tor json (default \"token\")\n  -json\n    \tprint JSON\n  -n\tshort flag\n\nexample:\n  lwtoken-helper x -json\n"
	got := parseFlagHelp(help)
	want := []compFlag{{"format", "format", `output format: token, or json (default "token")`}, {"json", "", "print JSON"}, {"n", "", "short flag"}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// The model behind the scripts covers every command of the table with the flags its
// FlagSet really has.
func TestCompletionModel(t *testing.T) {
	m := completionModel()
	if len(m) != len(commands) {
		t.Fatalf("%d commands in the model, %d in the table", len(m), len(commands))
	}
	byName := map[string][]string{}
	for _, c := range m {
		for _, f := range c.flags {
			byName[c.name] = append(byName[c.name], f.name)
		}
	}
	for cmd, want := range map[string][]string{
		"get":      {"format", "min-ttl", "profile", "scope", "socket"},
		"exec":     {"min-ttl", "profile", "scope", "socket"},
		"prompt":   {"profile", "socket", "timeout"},
		"profiles": {"json", "names", "socket"},
	} {
		if !slices.Equal(byName[cmd], want) {
			t.Errorf("%s: flags %q, want %q", cmd, byName[cmd], want)
		}
	}
}

// Each script is valid in its shell (syntax check by the shell itself); behaviour is
// tested in e2e with the real binary.
func TestCompletionScriptsParse(t *testing.T) {
	for _, sh := range completionShells {
		var out, errb bytes.Buffer
		if code := Main(context.Background(), &Env{Stdout: &out, Stderr: &errb}, []string{"completion", sh}); code != 0 || errb.Len() > 0 {
			t.Fatalf("completion %s: exit %d: %s", sh, code, errb.String())
		}
		if !strings.Contains(out.String(), "lwtoken-helper") {
			t.Fatalf("completion %s: %q", sh, out.String())
		}
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("%s not installed: syntax not checked", sh)
			continue
		}
		f := filepath.Join(t.TempDir(), "c."+sh)
		os.WriteFile(f, out.Bytes(), 0o600)
		if b, err := exec.Command(path, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("%s -n rejects the script: %v\n%s\n%s", sh, err, b, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := Main(context.Background(), &Env{Stdout: &out, Stderr: &errb}, []string{"completion", "tcsh"}); code != ExitUsage ||
		!strings.Contains(errb.String(), `lwtoken-helper: error: completion: unknown shell "tcsh"`) {
		t.Fatalf("completion tcsh: %d %q", code, errb.String())
	}
}

// Every command answers -h and --help on stdout with its usage and an example, exit 0.
func TestEveryCommandHasHelpWithExample(t *testing.T) {
	for _, c := range commands {
		for _, h := range []string{"-h", "--help"} {
			var out, errb bytes.Buffer
			code := Main(context.Background(), &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, []string{c.Name, h})
			s := out.String()
			if code != 0 || errb.Len() > 0 || !strings.HasPrefix(s, "usage: lwtoken-helper "+c.Name) ||
				!strings.Contains(s, "\nexample:\n  ") || strings.Count(s, "usage:") != 1 {
				t.Errorf("%s %s: exit %d, stderr %q, stdout:\n%s", c.Name, h, code, errb.String(), s)
			}
		}
	}
}
