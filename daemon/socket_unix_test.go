//go:build unix

package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func umask(m int) int { return syscall.Umask(m) }

func TestSocketDirectoryChecks(t *testing.T) {
	dir, _ := os.MkdirTemp("", "lwd")
	defer os.RemoveAll(dir)
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := listenSocket(filepath.Join(open, "sock")); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Fatalf("world-writable dir: %v", err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(open, link)
	if _, err := listenSocket(filepath.Join(link, "sock")); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("symlink dir: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := listenSocket(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file at the path: %v", err)
	}
	if _, err := listenSocket("/" + strings.Repeat("x", 120)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("long path: %v", err)
	}
	good := filepath.Join(dir, "new", "sock")
	old := umask(0)
	l, err := listenSocket(good)
	umask(old)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, _ := os.Stat(good)
	di, _ := os.Stat(filepath.Dir(good))
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("socket %v dir %v, want 0600 and 0700 even with umask 0", fi.Mode().Perm(), di.Mode().Perm())
	}
}
