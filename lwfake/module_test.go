package lwfake_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsableFromAnotherModule is a bot developer's view: a throwaway module of its own,
// requiring this one through a replace directive, with the bot's code
// (testdata/mybot/mybot.go), the README's lwfake test verbatim, and a test of a program
// that uses the public client through an in-process daemon against the fake
// (testdata/mybot/client_test.go). "go test" runs in it offline, from the module cache
// this module's own build filled; then "go install .../cmd/lwfake" from it, and the
// installed lwfake lists its flags. It fails if a public package names an internal type a
// user would need, or if the README's snippet stops compiling or passing.
func TestUsableFromAnotherModule(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build a user's module: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) []byte {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write("go.mod", []byte("module example.com/mybot\n\ngo 1.26\n\n"+
		"require github.com/lwtoken-helper/lwtoken-helper v0.0.0\n\n"+
		"replace github.com/lwtoken-helper/lwtoken-helper => "+root+"\n"))
	write("go.sum", read(filepath.Join(root, "go.sum"))) // the hashes of the modules both need
	write("mybot.go", read("testdata/mybot/mybot.go"))
	write("client_test.go", read("testdata/mybot/client_test.go"))
	write("readme_test.go", []byte(readmeSnippet(t, string(read(filepath.Join(root, "README.md"))), "lwfake-user-test")))

	cmd := exec.CommandContext(t.Context(), goBin, "test", "-count=1", "-v", "./...")
	cmd.Dir = dir
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test in a user's module: %v\n%s", err, out)
	}
	for _, test := range []string{"TestGreetSendsOneMessage", "TestClientAgainstTheFake"} {
		if !strings.Contains(string(out), "--- PASS: "+test+" ") {
			t.Errorf("%s did not pass:\n%s", test, out)
		}
	}

	// The standalone fake installs with go install and keeps its flags.
	gobin := t.TempDir()
	cmd = exec.CommandContext(t.Context(), goBin, "install", "github.com/lwtoken-helper/lwtoken-helper/cmd/lwfake")
	cmd.Dir = dir
	cmd.Env = append(env, "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install .../cmd/lwfake: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(t.Context(), filepath.Join(gobin, "lwfake"), "-h").CombinedOutput()
	if code := exitCode(err); code != 2 {
		t.Errorf("lwfake -h: exit %d (%v), want 2 (usage)", code, err)
	}
	for _, flag := range []string{"-addr", "-client-id", "-client-secret-file", "-service-account", "-public-key-file", "-scopes", "-lifetime", "-url-file"} {
		if !strings.Contains(string(out), "  "+flag+" ") {
			t.Errorf("lwfake -h does not list %s:\n%s", flag, out)
		}
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// readmeSnippet returns the fenced block after "<!-- test: NAME -->" in readme.
func readmeSnippet(t *testing.T, readme, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- test: "+name+" -->\n```")
	if !ok {
		t.Fatalf("README.md has no snippet %q", name)
	}
	_, body, _ := strings.Cut(rest, "\n")
	body, _, ok = strings.Cut(body, "\n```\n")
	if !ok {
		t.Fatalf("snippet %q is not closed", name)
	}
	return body + "\n"
}
