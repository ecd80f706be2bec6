package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTypesNameableFromAnotherModule is a user's view of package client: a throwaway
// module of its own, requiring this one through a replace directive, with a program
// (testdata/usermod/main.go) that spells out the type of every Client call and of
// lwhttp's functions and writes functions taking each type the calls return. It builds
// offline, from the module cache this module's own build filled, and then runs against the
// daemon TestMain started. It fails to compile if a returned type moves to an internal
// package.
func TestTypesNameableFromAnotherModule(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build a user's module: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyFile := func(name, from string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/usermod\n\ngo 1.26\n\n"+
		"require github.com/lwtoken-helper/lwtoken-helper v0.0.0\n\n"+
		"replace github.com/lwtoken-helper/lwtoken-helper => "+root+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile("go.sum", filepath.Join(root, "go.sum")) // the hashes of the modules both need
	copyFile("main.go", filepath.Join("testdata", "usermod", "main.go"))

	bin := filepath.Join(dir, "usermod")
	build := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build in a user's module: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(t.Context(), bin).CombinedOutput() // LWTOKEN_HELPER_SOCKET: see TestMain
	if err != nil {
		t.Fatalf("the user's program: %v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	if !strings.Contains(lines[0], " Bearer bot user.read default ") || !strings.Contains(string(out), "\ndefault bot user.read valid ok ") {
		t.Fatalf("the user's program printed:\n%s", out)
	}
}
