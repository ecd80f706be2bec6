//go:build unix

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/internal/fileperm"
)

// maxSymlinks bounds the symlinks CheckTrusted follows (Linux's own limit is 40).
const maxSymlinks = 40

// CheckTrusted checks that only uid (the daemon's user) and root can change the config at
// path: the file it resolves to and every directory passed on the way there, including
// the directories of each symlink followed (a Kubernetes ConfigMap's config.toml ->
// ..data/config.toml -> ..2026_.../config.toml), must belong to uid or root and must not be
// writable by group or others. A directory that others may write passes only with the
// sticky bit (like /tmp) or on a read-only mount (like a ConfigMap's volume). The file must
// be a regular file.
//
// It returns nil; an *UnsafeError (wrapping ErrUnsafe) naming the file or directory and
// the fix; an error wrapping ErrNotFound when the file does not exist but every directory
// up to it is safe; or another error when a path element cannot be read.
func CheckTrusted(path string, uid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := checkTrustedDir("/", uid); err != nil {
		return err
	}
	cur := "/"
	todo := strings.Split(abs, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config: %s: %w", path, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			// The link's directory (cur) was checked: only uid and root can replace it,
			// and, in a sticky directory, the link's owner.
			if owner, foreign := fileperm.ForeignOwner(fi, uid); foreign {
				return unsafef(next, "keep the config in a directory of your own or root's (--config FILE or LWTOKEN_HELPER_CONFIG)",
					"symbolic link %s on the way to the config file is owned by uid %d, not by the daemon's user (uid %d) or root: refusing to follow it", next, owner, uid)
			}
			if links++; links > maxSymlinks {
				return fmt.Errorf("config: %s: too many levels of symbolic links", path)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return fmt.Errorf("config: %w", err)
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		cur = next
		if len(todo) == 0 || onlyDots(todo) {
			break
		}
		if err := checkTrustedDir(cur, uid); err != nil {
			return err
		}
	}
	fi, err := os.Lstat(cur)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("config: %s is not a regular file", describe(path, cur))
	}
	owner, foreign := fileperm.ForeignOwner(fi, uid)
	switch {
	case foreign:
		return unsafef(cur, fmt.Sprintf("have root run `chown %d %s`, or write a new config with `lwtoken-helperd setup`", uid, cur),
			"%s is owned by uid %d, not by the daemon's user (uid %d) or root: refusing to read it", describe(path, cur), owner, uid)
	case fileperm.WritableByOthers("", fi):
		return unsafef(cur, "chmod go-w "+cur,
			"%s is writable by group or others (mode %04o): refusing to read it", describe(path, cur), fi.Mode().Perm())
	}
	return nil
}

// onlyDots reports whether the remaining path elements leave the current one unchanged.
func onlyDots(elems []string) bool {
	for _, e := range elems {
		if e != "" && e != "." {
			return false
		}
	}
	return true
}

// describe names the config file, and what it resolves to when that differs.
func describe(path, real string) string {
	if abs, err := filepath.Abs(path); err == nil && abs == real {
		return "config file " + path
	}
	return "config file " + path + " (" + real + ")"
}

func checkTrustedDir(dir string, uid int) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	owner, foreign := fileperm.ForeignOwner(fi, uid)
	if owner < 0 {
		return fmt.Errorf("config: directory %s: cannot read its owner", dir)
	}
	if foreign {
		return unsafef(dir, "keep the config in a directory of your own or root's (--config FILE or LWTOKEN_HELPER_CONFIG)",
			"directory %s of the config file is owned by uid %d, not by the daemon's user (uid %d) or root: refusing to trust it", dir, owner, uid)
	}
	if fileperm.WritableByOthers(dir, fi) {
		return unsafef(dir, "chmod go-w "+dir,
			"directory %s of the config file is writable by group or others (mode %04o): refusing to trust it", dir, fi.Mode().Perm())
	}
	return nil
}
