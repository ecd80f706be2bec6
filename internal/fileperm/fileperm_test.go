//go:build unix

package fileperm

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestRule(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, mode fs.FileMode, isDir bool) (string, fs.FileInfo) {
		p := filepath.Join(dir, name)
		if isDir {
			os.Mkdir(p, 0o700)
		} else {
			os.WriteFile(p, nil, 0o600)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return p, fi
	}
	for _, c := range []struct {
		name     string
		mode     fs.FileMode
		dir      bool
		writable bool
	}{
		{"file 0600", 0o600, false, false},
		{"file 0644", 0o644, false, false},
		{"file 0664", 0o664, false, true},
		{"file 0606", 0o606, false, true},
		{"dir 0755", 0o755, true, false},
		{"dir 0775", 0o775, true, true},
		{"dir 0777", 0o777, true, true},
		{"dir 1777", 0o777 | fs.ModeSticky, true, false},
		{"file 1666", 0o666 | fs.ModeSticky, false, true}, // the sticky bit exempts directories only
	} {
		p, fi := mk(c.name, c.mode, c.dir)
		if got := WritableByOthers(p, fi); got != c.writable {
			t.Errorf("%s: WritableByOthers = %v, want %v", c.name, got, c.writable)
		}
	}
	link := filepath.Join(dir, "link")
	os.Symlink("dir 0777", link)
	if fi, _ := os.Lstat(link); WritableByOthers(link, fi) {
		t.Error("a symlink's own mode counted")
	}
	_, fi := mk("mine", 0o600, false)
	me := os.Getuid()
	if owner, foreign := ForeignOwner(fi, me); owner != me || foreign {
		t.Errorf("own file: %d %v", owner, foreign)
	}
	if me != 0 {
		if _, foreign := ForeignOwner(fi, me+1); !foreign {
			t.Error("another uid's file is not foreign")
		}
	}
	p, _ := mk("theirs", 0o600, false)
	if err := os.Chown(p, 12345, 12345); err != nil {
		t.Fatalf("chown (needs root, as CI runs it): %v", err)
	}
	fi, _ = os.Lstat(p)
	if owner, foreign := ForeignOwner(fi, me); owner != 12345 || !foreign {
		t.Errorf("uid 12345's file for uid %d: %d %v", me, owner, foreign)
	}
	if _, foreign := ForeignOwner(fi, 12345); foreign {
		t.Error("a file of uid 12345 is foreign to uid 12345")
	}
	if err := os.Chown(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Lstat(p)
	if _, foreign := ForeignOwner(fi, 12345); foreign {
		t.Error("root's file is foreign")
	}
}
