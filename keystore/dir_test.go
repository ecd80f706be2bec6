//go:build unix

package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testsecretdir"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

const (
	pemA = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	pemB = "-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n"
)

// secretsDir returns a fresh directory for a credentials dir, under one only root or we
// can write (t.TempDir's parent is fine: /tmp is sticky).
func secretsDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "lineworks")
}

func mustGet(t *testing.T, d *keystore.Dir, key string) string {
	t.Helper()
	b, err := d.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return string(b)
}

// kubelet's exact layout with its defaults (0644 files, a 1777 volume root, two levels of
// links) is read, and an update through the ..data swap is seen at the next Get.
func TestDirKubeletLayout(t *testing.T) {
	dir := secretsDir(t)
	kw := &testsecretdir.Kubelet{Dir: dir}
	if err := kw.Write(map[string][]byte{"default.private-key": []byte(pemA), "default.client-secret": []byte("s3cret\n")}); err != nil {
		t.Fatal(err)
	}
	// The layout is kubelet's: links all the way down.
	if l, err := os.Readlink(filepath.Join(dir, "default.private-key")); err != nil || l != "..data/default.private-key" {
		t.Fatalf("layout: %q %v", l, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "..data")); err != nil || !strings.HasPrefix(l, "..20") {
		t.Fatalf("layout: ..data -> %q %v", l, err)
	}
	d, err := keystore.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, d, keystore.PrivateKeyKey("default")); got != pemA {
		t.Fatalf("private key: %q", got)
	}
	if got := mustGet(t, d, keystore.ClientSecretKey("default")); got != "s3cret" {
		t.Fatalf("client secret %q: the final newline is not part of it", got)
	}
	if d.Describe() != "files in "+dir {
		t.Fatalf("describe: %q", d.Describe())
	}
	if err := kw.Write(map[string][]byte{"default.private-key": []byte(pemB), "default.client-secret": []byte("n3w")}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, d, keystore.PrivateKeyKey("default")); got != pemB {
		t.Fatalf("after the update: %q", got)
	}
	if got := mustGet(t, d, keystore.ClientSecretKey("default")); got != "n3w" {
		t.Fatalf("after the update: %q", got)
	}
	// At every step of an update a reader sees the old pair or the new one, whole.
	kw.Between = func(step string) {
		k, kerr := d.Get(context.Background(), keystore.PrivateKeyKey("default"))
		c, cerr := d.Get(context.Background(), keystore.ClientSecretKey("default"))
		if kerr != nil || cerr != nil {
			t.Errorf("%s: %v %v", step, kerr, cerr)
			return
		}
		if !(string(k) == pemB && string(c) == "n3w") && !(string(k) == pemA && string(c) == "s3cret") {
			t.Errorf("%s: a mix of old and new", step)
		}
	}
	if err := kw.Write(map[string][]byte{"default.private-key": []byte(pemA), "default.client-secret": []byte("s3cret")}); err != nil {
		t.Fatal(err)
	}
	if ws := d.Inspect("default"); len(ws) != 2 || !strings.Contains(ws[0], "readable by every user (mode 0644)") {
		t.Fatalf("inspect of kubelet's 0644 defaults: %q", ws)
	}
	kw.Mode = 0o440
	kw.Between = nil
	if err := kw.Write(map[string][]byte{"default.private-key": []byte(pemA), "default.client-secret": []byte("s3cret")}); err != nil {
		t.Fatal(err)
	}
	if ws := d.Inspect("default"); len(ws) != 0 {
		t.Fatalf("inspect of 0440 files: %q", ws)
	}
}

// Every way another user could change a secret is refused, naming the file.
func TestDirRefusesWhatOthersCanChange(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (it chowns files to another uid)")
	}
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"world-writable file", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "default.private-key"), pemA, 0o666)
		}, "writable by other users (mode 0666)"},
		{"group-writable file", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "default.private-key"), pemA, 0o620)
		}, "writable by other users (mode 0620)"},
		{"file of another user", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "default.private-key")
			write(t, p, pemA, 0o400)
			os.Chown(p, 12345, 12345)
		}, "owned by uid 12345"},
		{"link planted by another user in the sticky volume root", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "other.private-key"), pemA, 0o400)
			os.Chmod(dir, 0o777|os.ModeSticky)
			os.Symlink("other.private-key", filepath.Join(dir, "default.private-key"))
			os.Lchown(filepath.Join(dir, "default.private-key"), 12345, 12345)
		}, "owned by uid 12345"},
		{"world-writable directory on the way", func(t *testing.T, dir string) {
			sub := filepath.Join(dir, "..data")
			os.Mkdir(sub, 0o777)
			os.Chmod(sub, 0o777)
			write(t, filepath.Join(sub, "default.private-key"), pemA, 0o400)
			os.Symlink("..data/default.private-key", filepath.Join(dir, "default.private-key"))
		}, "writable by other users (mode 0777)"},
		{"link out of the directory", func(t *testing.T, dir string) {
			outside := filepath.Join(filepath.Dir(dir), "outside.key")
			write(t, outside, pemA, 0o400)
			os.Symlink("../outside.key", filepath.Join(dir, "default.private-key"))
		}, "leads outside the directory"},
		{"absolute link out of the directory", func(t *testing.T, dir string) {
			os.Symlink("/etc/passwd", filepath.Join(dir, "default.private-key"))
		}, "leads outside the directory"},
		{"too large", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "default.private-key"), strings.Repeat("k", keystore.MaxSecretFileSize+1), 0o400)
		}, "larger than 65536 bytes"},
		{"a fifo", func(t *testing.T, dir string) {
			if err := mkfifo(filepath.Join(dir, "default.private-key")); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"a directory", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "default.private-key"), 0o700)
		}, "is a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := secretsDir(t)
			os.Mkdir(dir, 0o700)
			c.setup(t, dir)
			d, err := keystore.NewDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Get(context.Background(), keystore.PrivateKeyKey("default"))
			var fe *keystore.FileError
			if !errors.As(err, &fe) || !errors.Is(err, keystore.ErrUnusable) || errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("got %v, want an unusable file", err)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, "default.private-key")) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name the file and say %q", err, c.want)
			}
			if fe.Hint == "" || keystore.Hint(err) != fe.Hint {
				t.Fatalf("hint: %q / %q", fe.Hint, keystore.Hint(err))
			}
			if strings.Contains(err.Error(), "AAAA") {
				t.Fatalf("the error holds the file's contents: %v", err)
			}
		})
	}
}

func TestDirMissingAndEmpty(t *testing.T) {
	dir := secretsDir(t)
	os.Mkdir(dir, 0o700)
	d, err := keystore.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Get(context.Background(), keystore.PrivateKeyKey("default"))
	if !errors.Is(err, keystore.ErrNotFound) || !strings.Contains(err.Error(), filepath.Join(dir, "default.private-key")+": no such file") {
		t.Fatalf("missing: %v", err)
	}
	if h := keystore.Hint(err); !strings.Contains(h, `Kubernetes Secret key "default.private-key"`) {
		t.Fatalf("hint: %q", h)
	}
	os.Symlink("..data/default.private-key", filepath.Join(dir, "default.private-key"))
	if _, err = d.Get(context.Background(), keystore.PrivateKeyKey("default")); !errors.Is(err, keystore.ErrNotFound) ||
		!strings.Contains(err.Error(), "symbolic link to a missing file") {
		t.Fatalf("dangling link: %v", err)
	}
	write(t, filepath.Join(dir, "default.client-secret"), " \n", 0o400)
	if _, err = d.Get(context.Background(), keystore.ClientSecretKey("default")); !errors.Is(err, keystore.ErrUnusable) || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty secret: %v", err)
	}
	// Keys that name no file, such as a token or doctor's probe, are simply absent.
	for _, k := range []string{keystore.TokenKey("default", "bot"), "doctor/probe", keystore.PrivateKeyKey("../x"), keystore.PrivateKeyKey("..data")} {
		if _, err := d.Get(context.Background(), k); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("%s: %v", k, err)
		}
	}
}

func TestNewDirRefusals(t *testing.T) {
	base := t.TempDir()
	if _, err := keystore.NewDir(filepath.Join(base, "none")); err == nil || !strings.Contains(err.Error(), filepath.Join(base, "none")) {
		t.Fatalf("missing directory: %v", err)
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := keystore.NewDir(open); err == nil || !strings.Contains(err.Error(), "writable by other users (mode 0777)") {
		t.Fatalf("world-writable directory: %v", err)
	}
	below := filepath.Join(open, "below")
	os.Mkdir(below, 0o700)
	if _, err := keystore.NewDir(below); err == nil || !strings.Contains(err.Error(), open+" is writable by other users") {
		t.Fatalf("directory under a world-writable one: %v", err)
	}
	sticky := filepath.Join(base, "sticky")
	os.Mkdir(sticky, 0o777)
	os.Chmod(sticky, 0o777|os.ModeSticky)
	if _, err := keystore.NewDir(sticky); err != nil {
		t.Fatalf("a sticky root-owned directory, as a secret volume's root: %v", err)
	}
	f := filepath.Join(base, "file")
	write(t, f, "x", 0o600)
	if _, err := keystore.NewDir(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("a file: %v", err)
	}
}

// Watch reports a kubelet update and a rename over a file (each once, debounced), a
// profile whose file vanishes or becomes refused, and nothing for a rewrite with the same
// contents; the periodic re-read finds what no event announced.
func TestDirWatch(t *testing.T) {
	dir := secretsDir(t)
	kw := &testsecretdir.Kubelet{Dir: dir}
	files := map[string][]byte{"default.private-key": []byte(pemA), "default.client-secret": []byte("s1"), "other.client-secret": []byte("o1")}
	if err := kw.Write(files); err != nil {
		t.Fatal(err)
	}
	d, err := keystore.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	notes := make(chan string, 16)
	report := func(p string) { notes <- p }
	var logs bytes.Buffer
	stop := keystore.StartWatchForTest(d, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)), report, time.Hour, 50*time.Millisecond)
	defer func() { stop() }()

	expect := func(what string, want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case p := <-notes:
				if p != w {
					t.Fatalf("%s: reported %q, want %q", what, p, w)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no report of %q", what, w)
			}
		}
		select {
		case p := <-notes:
			t.Fatalf("%s: an extra report of %q", what, p)
		case <-time.After(300 * time.Millisecond):
		}
	}

	start := time.Now()
	files["default.private-key"] = []byte(pemB)
	if err := kw.Write(files); err != nil {
		t.Fatal(err)
	}
	expect("kubelet update of one profile", "default")
	t.Logf("kubelet update noticed within %v of the write (debounce 50ms)", time.Since(start).Round(time.Millisecond))
	if err := kw.Write(files); err != nil { // same contents, a new timestamped directory
		t.Fatal(err)
	}
	expect("kubelet rewrite with the same contents")
	stop()

	// A Vault/OpenBao Agent renders into a plain directory by renaming over the file.
	plain := secretsDir(t)
	os.Mkdir(plain, 0o700)
	write(t, filepath.Join(plain, "agent.private-key"), pemA, 0o400)
	write(t, filepath.Join(plain, "agent.client-secret"), "a1", 0o400)
	pd, err := keystore.NewDir(plain)
	if err != nil {
		t.Fatal(err)
	}
	stop = keystore.StartWatchForTest(pd, slog.New(slog.DiscardHandler), report, time.Hour, 50*time.Millisecond)
	if err := testsecretdir.RenameOver(plain, "agent.client-secret", []byte("a2\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	expect("rename over the client secret", "agent")
	os.Remove(filepath.Join(plain, "agent.private-key"))
	expect("the private key removed", "agent")
	os.Chmod(filepath.Join(plain, "agent.client-secret"), 0o402)
	expect("the client secret made world-writable", "agent")
	stop()

	// The backstop: a debounce longer than the test (events never lead to a re-read) and a
	// re-read every 200 ms: a change is still found.
	stop = keystore.StartWatchForTest(d, slog.New(slog.DiscardHandler), report, 200*time.Millisecond, time.Hour)
	files["other.client-secret"] = []byte("o2")
	if err := kw.Write(files); err != nil {
		t.Fatal(err)
	}
	expect("the periodic re-read", "other")
	if strings.Contains(logs.String(), "s1") || strings.Contains(logs.String(), "BBBB") {
		t.Fatalf("the watcher logged a secret:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "credentials changed") {
		t.Fatalf("the watcher logged no change:\n%s", logs.String())
	}
}

func write(t *testing.T, path, contents string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(contents), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
