package wire

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestDefaultSocketPath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the XDG rules are Linux's; other systems use fixed paths")
	}
	t.Setenv(EnvSocket, "/x/explicit.sock")
	if got := DefaultSocketPath(); got != "/x/explicit.sock" {
		t.Fatalf("explicit: %q", got)
	}
	t.Setenv(EnvSocket, "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
	if got := DefaultSocketPath(); got != "/run/user/4242/lwtoken-helper/sock" {
		t.Fatalf("xdg: %q", got)
	}
	if os.Getuid() == 0 {
		other := t.TempDir()
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		t.Setenv("XDG_RUNTIME_DIR", other) // `su` without -l: another user's runtime dir
		if got := DefaultSocketPath(); got == filepath.Join(other, "lwtoken-helper", "sock") {
			t.Fatalf("used another user's XDG_RUNTIME_DIR: %q", got)
		}
	}
	t.Setenv("XDG_RUNTIME_DIR", "relative/dir") // the spec says to ignore a relative one
	want := fmt.Sprintf("/tmp/lwtoken-helper-%d/sock", os.Getuid())
	if ownedDir(fmt.Sprintf("/run/user/%d", os.Getuid()), os.Getuid()) {
		want = fmt.Sprintf("/run/user/%d/lwtoken-helper/sock", os.Getuid())
	}
	if got := DefaultSocketPath(); got != want {
		t.Fatalf("without XDG_RUNTIME_DIR (cron): %q, want %q", got, want)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got := DefaultSocketPath(); got != want {
		t.Fatalf("unset XDG_RUNTIME_DIR: %q, want %q", got, want)
	}
}

func TestOwnedDir(t *testing.T) {
	d := t.TempDir()
	if !ownedDir(d, os.Getuid()) {
		t.Fatal("own temp dir not owned")
	}
	if ownedDir(d, os.Getuid()+1) {
		t.Fatal("owned by another uid")
	}
	f := filepath.Join(d, "f")
	os.WriteFile(f, nil, 0o600)
	if ownedDir(f, os.Getuid()) {
		t.Fatal("a file is not a dir")
	}
}
