package keystore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/internal/fileperm"
)

// File names in a credentials directory: PROFILE + one of these suffixes.
const (
	PrivateKeySuffix   = ".private-key"
	ClientSecretSuffix = ".client-secret"
)

// MaxSecretFileSize bounds what Dir reads of one file (an RSA-4096 PEM is about 3.3 KB).
const MaxSecretFileSize = 64 << 10

// maxSymlinkHops bounds how many symbolic links Dir follows for one file (kubelet's layout
// needs two: KEY -> ..data/KEY, ..data -> ..TIMESTAMP).
const maxSymlinkHops = 16

// ErrUnusable marks a secret file that exists but cannot be used: unreadable, not a regular
// file, too large, empty, outside the directory, or writable by another user.
var ErrUnusable = errors.New("secret file unusable")

// FileError is a problem with one file of a Dir. It wraps ErrNotFound (the file is missing)
// or ErrUnusable, and the underlying error if any. Its text names the file, never its
// contents; Hint says what to do.
type FileError struct {
	Path    string // the file as named in the directory, e.g. /run/secrets/lw/default.private-key
	Problem string // e.g. "no such file", "writable by other users (mode 0666)"
	Hint    string

	kind  error // ErrNotFound or ErrUnusable
	cause error
}

func (e *FileError) Error() string { return "secret file " + e.Path + ": " + e.Problem }

func (e *FileError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// Dir is a Secrets of files in one directory, as a secret manager renders them: a Kubernetes
// Secret volume, systemd's $CREDENTIALS_DIRECTORY, Docker secrets, a Vault or OpenBao Agent
// template. A profile's private key is the file PROFILE.private-key and its client secret
// PROFILE.client-secret (surrounding white space, such as a final newline, is not part of
// the secret). Get reads the file at every call, so a rotated file is used at the next mint;
// Watch reports changes as they happen.
//
// Dir follows symbolic links inside the directory (kubelet's KEY -> ..data/KEY and the
// ..data -> ..TIMESTAMP swap) but refuses a link that leads outside it, and refuses any
// file, link or directory on the way that another user could change: owned by someone
// other than root or this process's user, or writable by group or others (a directory
// with the sticky bit set, like the root of a Kubernetes Secret volume, is accepted: others
// cannot replace what is in it, and anything they add is refused by its owner). The
// directory's ancestors are checked the same way when Dir is created. Files are read with a
// size bound of MaxSecretFileSize. Dir works on unix systems only.
type Dir struct {
	shown string // the directory as given (made absolute), for messages
	real  string // the directory with symbolic links resolved
	uid   int
}

var (
	_ Secrets = (*Dir)(nil)
	_ Locator = (*Dir)(nil)
	_ Watcher = (*Dir)(nil)
)

// NewDir returns the Dir of path. It fails, with an error naming the directory, when path is
// not a directory this user can list, or when it or one of its ancestors could be changed
// by another user (see Dir).
func NewDir(path string) (*Dir, error) {
	if err := dirSupported(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("credentials directory %s: %w", path, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("credentials directory %s: %w", abs, err)
	}
	d := &Dir{shown: abs, real: real, uid: os.Geteuid()}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("credentials directory %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("credentials directory %s: not a directory", abs)
	}
	// The directory and each ancestor: nobody else may swap what lies below.
	for p := real; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("credentials directory %s: %w", abs, err)
		}
		if problem := d.insecure(p, fi); problem != "" {
			return nil, fmt.Errorf("credentials directory %s: %s is %s", abs, p, problem)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, fmt.Errorf("credentials directory %s: %w", abs, err)
	}
	f.Close()
	return d, nil
}

// Path returns the directory, as given to NewDir but absolute.
func (d *Dir) Path() string { return d.shown }

// Describe returns "files in DIR".
func (d *Dir) Describe() string { return "files in " + d.shown }

// fileName maps a Secrets key to its file name in the directory.
func fileName(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "profile/")
	if !ok {
		return "", false
	}
	for _, k := range []struct{ key, suffix string }{{"/private-key", PrivateKeySuffix}, {"/client-secret", ClientSecretSuffix}} {
		if profile, ok := strings.CutSuffix(rest, k.key); ok && profile != "" && !strings.ContainsAny(profile, "/\x00") &&
			!strings.HasPrefix(profile, ".") {
			return profile + k.suffix, true
		}
	}
	return "", false
}

// Locate returns the file that holds key, or "" for a key Dir does not hold.
func (d *Dir) Locate(key string) string {
	name, ok := fileName(key)
	if !ok {
		return ""
	}
	return filepath.Join(d.shown, name)
}

// Get returns the contents of the file of key (a client secret without surrounding white
// space). It fails with a *FileError wrapping ErrNotFound when the file does not exist, or
// ErrUnusable (see Dir); with ErrNotFound for a key that names no file.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keystore: get %q: %w: %w", key, ErrTimeout, err)
	}
	name, ok := fileName(key)
	if !ok {
		return nil, opError("get", key, ErrNotFound)
	}
	b, _, err := d.read(name)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(name, ClientSecretSuffix) {
		t := []byte(strings.TrimSpace(string(b)))
		clear(b)
		if len(t) == 0 {
			return nil, d.unusable(name, "is empty", nil, "write the client secret from the developer console into it")
		}
		b = t
	}
	return b, nil
}

// Inspect returns warnings about the files of profile that work but deserve a fix: files
// readable by every user. Missing or unusable files are Get's business, not reported here.
func (d *Dir) Inspect(profile string) []string {
	var out []string
	for _, suffix := range []string{PrivateKeySuffix, ClientSecretSuffix} {
		name := profile + suffix
		b, fi, err := d.read(name)
		clear(b)
		if err != nil {
			continue
		}
		if fi.Mode().Perm()&0o004 != 0 {
			out = append(out, fmt.Sprintf("%s is readable by every user (mode %04o)", filepath.Join(d.shown, name), fi.Mode().Perm()))
		}
	}
	return out
}

// read resolves name inside the directory, checks every step, and reads the file.
func (d *Dir) read(name string) ([]byte, fs.FileInfo, error) {
	target, fi, ferr := d.resolve(name)
	if ferr != nil {
		return nil, nil, ferr
	}
	f, err := openNoFollow(target)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, d.missing(name, err)
		}
		return nil, nil, d.unreadable(name, fi, err)
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil {
		return nil, nil, d.unreadable(name, fi, err)
	}
	if !os.SameFile(fi, ofi) {
		return nil, nil, d.unusable(name, "changed while being read", nil, "retry; if it persists, check what rewrites the directory")
	}
	if problem := d.insecure("", ofi); problem != "" {
		return nil, nil, d.insecureError(name, problem)
	}
	if ofi.Size() > MaxSecretFileSize {
		return nil, nil, d.unusable(name, fmt.Sprintf("is larger than %d bytes", MaxSecretFileSize), nil,
			"put only the PEM private key or the client secret in it")
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFileSize+1))
	if err != nil {
		clear(b)
		return nil, nil, d.unreadable(name, ofi, err)
	}
	if len(b) > MaxSecretFileSize {
		clear(b)
		return nil, nil, d.unusable(name, fmt.Sprintf("is larger than %d bytes", MaxSecretFileSize), nil,
			"put only the PEM private key or the client secret in it")
	}
	return b, ofi, nil
}

// resolve follows name from the directory, link by link, and returns the regular file it
// leads to. Every entry on the way must be owned by root or this user and not writable by
// others (see insecure); links must stay inside the directory.
func (d *Dir) resolve(name string) (string, fs.FileInfo, *FileError) {
	cur := d.real
	rest := []string{name}
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == d.real {
				return "", nil, d.unusable(name, "is a symbolic link that leads outside the directory", nil,
					"point it at a file inside "+d.shown+" (or mount the secret there)")
			}
			cur = filepath.Dir(cur)
			continue
		}
		p := filepath.Join(cur, c)
		fi, err := os.Lstat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if hops > 0 {
					return "", nil, d.notFound(name, "is a symbolic link to a missing file", err)
				}
				return "", nil, d.missing(name, err)
			}
			return "", nil, d.unreadable(name, nil, err)
		}
		if problem := d.insecure(p, fi); problem != "" {
			return "", nil, d.insecureError(name, problemAt(p, fi, d, name, problem))
		}
		switch mode := fi.Mode(); {
		case mode&fs.ModeSymlink != 0:
			hops++
			if hops > maxSymlinkHops {
				return "", nil, d.unusable(name, "has too many levels of symbolic links", nil, "point it straight at the file")
			}
			t, err := os.Readlink(p)
			if err != nil {
				return "", nil, d.unreadable(name, nil, err)
			}
			if filepath.IsAbs(t) {
				rel, ok := d.inside(t)
				if !ok {
					return "", nil, d.unusable(name, "is a symbolic link that leads outside the directory", nil,
						"point it at a file inside "+d.shown+" (or mount the secret there)")
				}
				cur = d.real
				t = rel
			}
			rest = append(strings.Split(filepath.ToSlash(t), "/"), rest...)
		case mode.IsDir():
			if len(rest) == 0 {
				return "", nil, d.unusable(name, "is a directory", nil, "put the secret in a file of that name")
			}
			cur = p
		case mode.IsRegular():
			if len(rest) > 0 {
				return "", nil, d.notFound(name, "leads through a file where a directory should be", nil)
			}
			return p, fi, nil
		default:
			return "", nil, d.unusable(name, "is not a regular file", nil, "put the secret in a regular file")
		}
	}
	return "", nil, d.unusable(name, "names the directory itself", nil, "put the secret in a file")
}

// inside returns abs relative to the directory (as given or resolved) if it lies inside.
func (d *Dir) inside(abs string) (string, bool) {
	abs = filepath.Clean(abs)
	for _, base := range []string{d.real, d.shown} {
		if rel, err := filepath.Rel(base, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return rel, true
		}
	}
	return "", false
}

// problemAt says where a problem lies when it is not the named entry itself: the file a
// link resolves to, or a link or directory on the way.
func problemAt(p string, fi fs.FileInfo, d *Dir, name, problem string) string {
	switch {
	case p == filepath.Join(d.real, name):
		return problem
	case fi.Mode().IsRegular():
		return "resolves to " + p + ", which is " + problem
	}
	return "leads through " + p + ", which is " + problem
}

func (d *Dir) missing(name string, cause error) *FileError {
	return d.notFound(name, "no such file", cause)
}

func (d *Dir) notFound(name, problem string, cause error) *FileError {
	what := "the profile's private key (the PEM .key file from the developer console)"
	if strings.HasSuffix(name, ClientSecretSuffix) {
		what = "the profile's client secret"
	}
	return &FileError{Path: filepath.Join(d.shown, name), Problem: problem, kind: ErrNotFound, cause: cause,
		Hint: fmt.Sprintf("put %s in %s (e.g. a Kubernetes Secret key %q); the running daemon picks it up without a restart",
			what, filepath.Join(d.shown, name), name)}
}

func (d *Dir) unusable(name, problem string, cause error, hint string) *FileError {
	return &FileError{Path: filepath.Join(d.shown, name), Problem: problem, kind: ErrUnusable, cause: cause, Hint: hint}
}

func (d *Dir) unreadable(name string, fi fs.FileInfo, err error) *FileError {
	problem := "cannot read it: " + errText(err)
	if fi != nil {
		problem += fmt.Sprintf(" (mode %04o, owner uid %d)", fi.Mode().Perm(), fileperm.Owner(fi))
	}
	return d.unusable(name, problem, err, fmt.Sprintf(
		"make it readable by uid %d, e.g. a Kubernetes Secret volume's defaultMode 0440 with the pod's fsGroup, or chown/chmod the file", d.uid))
}

func (d *Dir) insecureError(name, problem string) *FileError {
	return d.unusable(name, problem, nil, fmt.Sprintf(
		"only %s may own it and nobody else may write it: `chmod go-w` (or the secret volume's defaultMode) and chown it", d.owners()))
}

// owners names who may own the files: "root" or "root or uid N".
func (d *Dir) owners() string {
	if d.uid == 0 {
		return "root"
	}
	return fmt.Sprintf("root or uid %d", d.uid)
}

// insecure says why another user could change fi's file (at path, "" for an open file), or
// "" if none can, by the rule of package fileperm: it is owned by someone other than root or
// this user, or writable by group or others (except a directory with the sticky bit set or
// on a read-only mount).
func (d *Dir) insecure(path string, fi fs.FileInfo) string {
	if uid, foreign := fileperm.ForeignOwner(fi, d.uid); foreign {
		return fmt.Sprintf("owned by uid %d (only %s may own it)", uid, d.owners())
	}
	if fileperm.WritableByOthers(path, fi) {
		return fmt.Sprintf("writable by other users (mode %04o)", fi.Mode().Perm())
	}
	return ""
}

// errText is err's text without the path the os package puts in front.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// profiles lists the profiles that have at least one file in the directory.
func (d *Dir) profiles() []string {
	ents, err := os.ReadDir(d.real)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		for _, s := range []string{PrivateKeySuffix, ClientSecretSuffix} {
			if p, ok := strings.CutSuffix(n, s); ok && p != "" && !strings.HasPrefix(p, ".") {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// digest sums what Get returns for both files of profile (or why it fails), so that a
// change of content or of usability can be noticed without keeping the secrets.
func (d *Dir) digest(profile string) [sha256.Size]byte {
	h := sha256.New()
	for _, key := range []string{PrivateKeyKey(profile), ClientSecretKey(profile)} {
		b, err := d.Get(context.Background(), key)
		if err != nil {
			fmt.Fprintf(h, "error %q\x00", err.Error())
			continue
		}
		fmt.Fprintf(h, "ok %d\x00", len(b))
		h.Write(b)
		clear(b)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
