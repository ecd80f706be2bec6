package wire

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// TestDarwinSocketDirIsPerUser: macOS's default socket directory is never in the shared
// /tmp (issue 12, item 2), and the socket path stays within sun_path.
func TestDarwinSocketDirIsPerUser(t *testing.T) {
	long := "/Users/" + strings.Repeat("x", 60)
	for _, c := range []struct{ home, tmpdir, want string }{
		{"/Users/alice", "/var/folders/ab/cd/T/", "/Users/alice/Library/Application Support/lwtoken-helper/run"},
		{long, "/var/folders/ab/cd/T/", "/var/folders/ab/cd/T/lwtoken-helper"},
		{long, "/tmp", long + "/Library/Application Support/lwtoken-helper/run"},
		{"", "/var/folders/ab/cd/T", "/var/folders/ab/cd/T/lwtoken-helper"},
		{"", "", "/var/empty/lwtoken-helper"},
		{"relative", "/tmp/", "/var/empty/lwtoken-helper"},
	} {
		got := darwinSocketDir(c.home, c.tmpdir)
		if got != c.want {
			t.Errorf("home %q tmpdir %q: %q, want %q", c.home, c.tmpdir, got, c.want)
		}
		if strings.HasPrefix(got, "/tmp") || strings.HasPrefix(got, "/private/tmp") {
			t.Errorf("home %q tmpdir %q: %q is in the shared /tmp", c.home, c.tmpdir, got)
		}
		if c.home == "/Users/alice" && len(got)+len("/sock") > MaxSocketPath {
			t.Errorf("%q is too long for sun_path", got)
		}
	}
}

// A system service's directory (systemd's RuntimeDirectory= for `install --system-user`)
// wins over every per-user location, in every context, but only when it is ours.
func TestDefaultSocketPathSystemService(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("system services are systemd's")
	}
	base := t.TempDir()
	old := systemSocketBase
	systemSocketBase = base
	t.Cleanup(func() { systemSocketBase = old })
	t.Setenv(EnvSocket, "")
	uid := os.Getuid()
	dir := filepath.Join(base, fmt.Sprint(uid))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "sock")
	for _, xdg := range []string{"", "/run/user/4242", "relative"} {
		t.Setenv("XDG_RUNTIME_DIR", xdg)
		if got := DefaultSocketPath(); got != want {
			t.Fatalf("XDG_RUNTIME_DIR=%q: %q, want the system service's %q", xdg, got, want)
		}
	}
	t.Setenv(EnvSocket, "/x/explicit.sock")
	if got := DefaultSocketPath(); got != "/x/explicit.sock" {
		t.Fatalf("an explicit socket must still win: %q", got)
	}
	t.Setenv(EnvSocket, "")
	if os.Getuid() == 0 {
		// Another user's directory under the base is not ours: ignored.
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
		if got := DefaultSocketPath(); got != "/run/user/4242/lwtoken-helper/sock" {
			t.Fatalf("another user's system directory was used: %q", got)
		}
	}
}

// BenchmarkDefaultSocketDir measures what every `get` pays to find the socket, including
// the one stat of the system service's directory.
func BenchmarkDefaultSocketDir(b *testing.B) {
	for b.Loop() {
		DefaultSocketDir()
	}
}
