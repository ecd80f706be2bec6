//go:build unix

package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// other is a uid that is neither the test's nor root. The cases that need files of another
// owner chown them, which needs root (CI runs as root): they fail, never skip, without it.
const other = 12345

func TestCheckTrusted(t *testing.T) {
	me := os.Getuid()
	daemonUID := 54321                                // the uid of a daemon that trusts only itself and root
	type layout func(t *testing.T, dir string) string // builds files under dir, returns the config path
	file := func(mode fs.FileMode, uid int) layout {
		return func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "config.toml")
			mustWrite(t, p, mode, uid)
			return p
		}
	}
	inDir := func(dirMode fs.FileMode, dirUID int, fileMode fs.FileMode, fileUID int) layout {
		return func(t *testing.T, dir string) string {
			d := mustDir(t, filepath.Join(dir, "cfg"), dirMode, dirUID)
			p := filepath.Join(d, "config.toml")
			mustWrite(t, p, fileMode, fileUID)
			return p
		}
	}
	// configMap lays out a Kubernetes ConfigMap volume as kubelet does: root-owned,
	// config.toml -> ..data/config.toml, ..data -> ..2026_12_02_01_00_00.123, files 0644.
	configMap := func(tsMode fs.FileMode) layout {
		return func(t *testing.T, dir string) string {
			vol := mustDir(t, filepath.Join(dir, "vol"), 0o755, 0)
			mustDir(t, filepath.Join(vol, "..2026_12_02_01_00_00.123"), tsMode, 0)
			mustWrite(t, filepath.Join(vol, "..2026_12_02_01_00_00.123", "config.toml"), 0o644, 0)
			mustLink(t, "..2026_12_02_01_00_00.123", filepath.Join(vol, "..data"))
			mustLink(t, "..data/config.toml", filepath.Join(vol, "config.toml"))
			return filepath.Join(vol, "config.toml")
		}
	}
	for _, tc := range []struct {
		name   string
		uid    int // the daemon's
		layout layout
		want   string // "" : trusted; else a part of the error
		notes  string // the path the error must name ("": none checked)
	}{
		{"own 0600 file in own 0700 dir", me, inDir(0o700, me, 0o600, me), "", ""},
		{"own 0644 file", me, inDir(0o755, me, 0o644, me), "", ""},
		{"root's 0644 file, root's dir, daemon of another uid", daemonUID, inDir(0o755, 0, 0o644, 0), "", ""},
		{"0666 file", me, file(0o666, me), "is writable by group or others (mode 0666)", "config.toml"},
		{"0620 file", me, file(0o620, me), "is writable by group or others (mode 0620)", "config.toml"},
		{"file of another uid", me, file(0o600, other), "is owned by uid 12345, not by the daemon's user", "config.toml"},
		{"file of uid 12345, daemon of another uid", daemonUID, inDir(0o755, 0, 0o644, other), "is owned by uid 12345", "config.toml"},
		{"dir of another uid", me, inDir(0o700, other, 0o600, me), "directory", "cfg"},
		{"dir of another uid, message", me, inDir(0o755, other, 0o600, me), "is owned by uid 12345, not by the daemon's user", "cfg"},
		{"world-writable dir", me, inDir(0o777, me, 0o600, me), "is writable by group or others (mode 0777)", "cfg"},
		{"group-writable dir", me, inDir(0o770, me, 0o600, me), "is writable by group or others (mode 0770)", "cfg"},
		{"sticky world-writable dir, own file", me, inDir(0o777|fs.ModeSticky, 0, 0o600, me), "", ""},
		{"ConfigMap layout, daemon of another uid", daemonUID, configMap(0o755), "", ""},
		{"ConfigMap layout, writable timestamped dir", daemonUID, configMap(0o777), "..2026_12_02_01_00_00.123 of the config file is writable", "..2026_12_02_01_00_00.123"},
		{"symlink into another uid's directory", me, func(t *testing.T, dir string) string {
			evil := mustDir(t, filepath.Join(dir, "evil"), 0o755, other)
			mustWrite(t, filepath.Join(evil, "config.toml"), 0o644, me)
			mustLink(t, filepath.Join(evil, "config.toml"), filepath.Join(dir, "config.toml"))
			return filepath.Join(dir, "config.toml")
		}, "is owned by uid 12345", "evil"},
		{"symlink in another uid's directory to a good file", me, func(t *testing.T, dir string) string {
			mustWrite(t, filepath.Join(dir, "real.toml"), 0o600, me)
			evil := mustDir(t, filepath.Join(dir, "evil"), 0o755, other)
			mustLink(t, filepath.Join(dir, "real.toml"), filepath.Join(evil, "config.toml"))
			return filepath.Join(evil, "config.toml")
		}, "is owned by uid 12345", "evil"},
		{"another uid's symlink in a sticky directory", me, func(t *testing.T, dir string) string {
			mustWrite(t, filepath.Join(dir, "real.toml"), 0o600, me)
			tmp := mustDir(t, filepath.Join(dir, "tmp"), 0o777|fs.ModeSticky, 0)
			mustLink(t, filepath.Join(dir, "real.toml"), filepath.Join(tmp, "config.toml"))
			mustChown(t, filepath.Join(tmp, "config.toml"), other)
			return filepath.Join(tmp, "config.toml")
		}, "symbolic link", "config.toml"},
		{"relative path with ..", me, func(t *testing.T, dir string) string {
			mustDir(t, filepath.Join(dir, "a"), 0o700, me)
			mustWrite(t, filepath.Join(dir, "config.toml"), 0o600, me)
			return filepath.Join(dir, "a", "..", "config.toml")
		}, "", ""},
		{"fifo", me, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "config.toml")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "is not a regular file", ""},
		{"symlink loop", me, func(t *testing.T, dir string) string {
			mustLink(t, "b", filepath.Join(dir, "a"))
			mustLink(t, "a", filepath.Join(dir, "b"))
			return filepath.Join(dir, "a")
		}, "too many levels of symbolic links", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mustDir(t, filepath.Join(t.TempDir(), "root"), 0o755, 0)
			path := tc.layout(t, dir)
			err := CheckTrusted(path, tc.uid)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c, err := LoadTrusted(path, tc.uid); err != nil || c == nil {
					t.Fatalf("LoadTrusted: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
			if _, lerr := LoadTrusted(path, tc.uid); lerr == nil || lerr.Error() != err.Error() {
				t.Fatalf("LoadTrusted: %v, want %v", lerr, err)
			}
			if tc.notes == "" {
				return
			}
			var ue *UnsafeError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnsafe) || filepath.Base(ue.Path) != tc.notes || ue.Fix == "" {
				t.Fatalf("err = %#v, want an *UnsafeError naming %s with a fix", err, tc.notes)
			}
			if !strings.HasPrefix(err.Error(), "config: ") || strings.HasSuffix(err.Error(), ".") {
				t.Fatalf("error text %q", err)
			}
		})
	}
}

// TestCheckTrustedMissingFile: a missing file is ErrNotFound (the daemon starts without
// profiles), but only when its directories are safe: otherwise another user could create it.
func TestCheckTrustedMissingFile(t *testing.T) {
	dir := t.TempDir()
	if err := CheckTrusted(filepath.Join(dir, "none.toml"), os.Getuid()); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnsafe) {
		t.Fatalf("missing file in a safe dir: %v", err)
	}
	open := mustDir(t, filepath.Join(dir, "open"), 0o777, os.Getuid())
	if err := CheckTrusted(filepath.Join(open, "none.toml"), os.Getuid()); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("missing file in a world-writable dir: %v", err)
	}
	if _, err := LoadTrusted(filepath.Join(open, "sub", "none.toml"), os.Getuid()); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("missing file under a world-writable dir: %v", err)
	}
}

func mustDir(t *testing.T, p string, mode fs.FileMode, uid int) string {
	t.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	mustChown(t, p, uid)
	return p
}

func mustWrite(t *testing.T, p string, mode fs.FileMode, uid int) {
	t.Helper()
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	mustChown(t, p, uid)
}

func mustLink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mustChown(t *testing.T, p string, uid int) {
	t.Helper()
	if uid == os.Getuid() {
		return
	}
	if err := os.Lchown(p, uid, uid); err != nil {
		t.Fatalf("chown %s to uid %d (these tests need root, as CI runs them): %v", p, uid, err)
	}
}
