package keystore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func uniqueNS(t *testing.T) string {
	b := make([]byte, 8)
	rand.Read(b)
	return t.Name() + "-" + hex.EncodeToString(b)
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// The real kernel keyring: an item round-trips through @u with the documented permissions,
// is replaced in one step, and a timeout makes the kernel forget it.
func TestKernelKeyringReal(t *testing.T) {
	ctx := context.Background()
	k := NewKernelKeyring(uniqueNS(t))
	var logs logBuf
	k.Start(logs.logger())
	if !strings.HasPrefix(k.Describe(), "kernel keyring (user keyring of uid ") {
		t.Fatalf("describe: %q (log: %s)", k.Describe(), logs.String())
	}
	key := TokenKey("default", "bot")
	t.Cleanup(func() { k.Delete(ctx, key) })
	if _, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before: %v", err)
	}
	if err := k.SetUntil(ctx, key, []byte("one"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := k.SetUntil(ctx, key, []byte("two"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if v, err := k.Get(ctx, key); err != nil || string(v) != "two" {
		t.Fatalf("get: %q %v", v, err)
	}
	if k.mem.Keys() != nil {
		t.Fatalf("items kept in memory too: %q", k.mem.Keys())
	}
	// Exactly one key of that description in @u, with the documented permissions.
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "user", k.desc(key), 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("user;%d;%d;3f0b0000;%s", os.Getuid(), os.Getgid(), k.desc(key)); d != want {
		t.Fatalf("describe: %q, want %q", d, want)
	}
	if err := k.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := k.Delete(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// A timeout at the token's expiry: the kernel forgets it by itself.
	if err := k.SetUntil(ctx, key, []byte("short"), time.Now().Add(1500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, key); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after its timeout: %v", err)
	}
	// Already expired: not stored at all.
	if err := k.SetUntil(ctx, key, []byte("dead"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired item was stored: %v", err)
	}
	// Never a long-lived secret.
	for _, sk := range []string{PrivateKeyKey("default"), ClientSecretKey("default")} {
		if err := k.Set(ctx, sk, []byte("x")); err == nil {
			t.Fatalf("set %s: the kernel keyring took a long-lived secret", sk)
		}
	}
	if logs.String() != "" {
		t.Fatalf("logged: %s", logs.String())
	}
}

// fakeKeyctl fails the calls named in fail with their errno and counts calls.
type fakeKeyctl struct {
	sysKeyctl
	mu    sync.Mutex
	fail  map[string]error
	calls map[string]int
}

func (f *fakeKeyctl) err(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	return f.fail[op]
}

func (f *fakeKeyctl) userKeyring() (int, error) {
	if err := f.err("userKeyring"); err != nil {
		return 0, err
	}
	return f.sysKeyctl.userKeyring()
}

func (f *fakeKeyctl) search(ring int, desc string) (int, error) {
	if err := f.err("search"); err != nil {
		return 0, err
	}
	return f.sysKeyctl.search(ring, desc)
}

func (f *fakeKeyctl) add(desc string, payload []byte) (int, error) {
	if err := f.err("add"); err != nil {
		return 0, err
	}
	return f.sysKeyctl.add(desc, payload)
}

// Where keyctl is blocked (Docker's seccomp, nspawn: EPERM; ENOSYS elsewhere), tokens are
// kept in memory, never an error, and exactly one line says so, however many calls follow.
func TestKernelKeyringBlocked(t *testing.T) {
	for _, c := range []struct {
		name string
		fail map[string]error
	}{
		{"EPERM at start", map[string]error{"userKeyring": unix.EPERM}},
		{"ENOSYS at start", map[string]error{"userKeyring": unix.ENOSYS}},
		{"EPERM at the first add", map[string]error{"add": unix.EPERM, "search": unix.EPERM}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			k := NewKernelKeyring(uniqueNS(t))
			f := &fakeKeyctl{fail: c.fail}
			k.sys = f
			var logs logBuf
			k.Start(logs.logger())
			for i := range 5 {
				key := TokenKey("default", fmt.Sprint("scope", i))
				if err := k.SetUntil(ctx, key, []byte("tok"), time.Now().Add(time.Hour)); err != nil {
					t.Fatalf("set: %v", err)
				}
				if v, err := k.Get(ctx, key); err != nil || string(v) != "tok" {
					t.Fatalf("get: %q %v", v, err)
				}
				if err := k.Delete(ctx, key); err != nil {
					t.Fatalf("delete: %v", err)
				}
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], `msg="`+KernelKeyringUnavailable+`"`) {
				t.Fatalf("want exactly one line saying %q, got:\n%s", KernelKeyringUnavailable, logs.String())
			}
			if !strings.HasPrefix(k.Describe(), "memory (kernel keyring unavailable: ") {
				t.Fatalf("describe: %q", k.Describe())
			}
			if n := f.calls["add"]; n > 1 {
				t.Fatalf("%d add_key calls after keyctl was found blocked", n)
			}
		})
	}
}

// A full quota (EDQUOT) keeps the items that do not fit in memory, with one line, no error
// and no retry loop: one add_key per Set.
func TestKernelKeyringQuotaFullFake(t *testing.T) {
	ctx := context.Background()
	k := NewKernelKeyring(uniqueNS(t))
	f := &fakeKeyctl{fail: map[string]error{"add": unix.EDQUOT}}
	k.sys = f
	var logs logBuf
	k.Start(logs.logger())
	for i := range 10 {
		key := TokenKey("default", fmt.Sprint("scope", i))
		if err := k.SetUntil(ctx, key, []byte("tok"), time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("set: %v", err)
		}
		if v, err := k.Get(ctx, key); err != nil || string(v) != "tok" {
			t.Fatalf("get: %q %v", v, err)
		}
	}
	if n := strings.Count(logs.String(), KernelKeyringQuotaFull); n != 1 {
		t.Fatalf("%d quota lines, want 1:\n%s", n, logs.String())
	}
	if f.calls["add"] != 10 {
		t.Fatalf("%d add_key calls for 10 sets", f.calls["add"])
	}
	if !strings.HasPrefix(k.Describe(), "kernel keyring") {
		t.Fatalf("describe: %q", k.Describe())
	}
}

func init() { extraHelpers["kernel-quota"] = kernelQuotaHelper }

// The real quota of an unprivileged uid (200 keys, 20000 bytes by default), filled up by
// the same process: the token stays in memory, one line says so, Set never fails. The
// helper runs as a uid no other test uses (the quota is per uid, machine-wide).
func TestKernelKeyringQuotaFullReal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (it runs a helper as uid 47011)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "lwks")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "keystore.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=47011", "--regid=47011", "--clear-groups", "--", bin)
	cmd.Env = append(os.Environ(), helperEnv+"=kernel-quota")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "quota helper: ok") {
		t.Fatalf("helper as uid 47011: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// kernelQuotaHelper is the helper side of TestKernelKeyringQuotaFullReal.
func kernelQuotaHelper() int {
	fail := func(format string, args ...any) int {
		fmt.Printf("quota helper: "+format+"\n", args...)
		return 1
	}
	ctx := context.Background()
	k := NewKernelKeyring(fmt.Sprint("quota-helper-", os.Getpid()))
	var logs logBuf
	k.Start(logs.logger())
	if !strings.HasPrefix(k.Describe(), "kernel keyring") {
		return fail("describe %q", k.Describe())
	}
	// Fill the quota with other keys in this process's keyring (freed when it exits).
	filler := bytes.Repeat([]byte("f"), 1000)
	n := 0
	for ; n < 300; n++ {
		if _, err := unix.AddKey("user", fmt.Sprint("filler-", n), filler, unix.KEY_SPEC_PROCESS_KEYRING); err != nil {
			if !errors.Is(err, unix.EDQUOT) {
				return fail("filler %d: %v", n, err)
			}
			break
		}
	}
	key := TokenKey("default", "bot")
	tok := bytes.Repeat([]byte("t"), 900)
	for range 3 {
		if err := k.SetUntil(ctx, key, tok, time.Now().Add(time.Hour)); err != nil {
			return fail("set with a full quota: %v", err)
		}
	}
	if v, err := k.Get(ctx, key); err != nil || !bytes.Equal(v, tok) {
		return fail("get: %v", err)
	}
	if c := strings.Count(logs.String(), KernelKeyringQuotaFull); c != 1 {
		return fail("%d quota lines:\n%s", c, logs.String())
	}
	fmt.Printf("quota helper: ok (uid %d, quota full after %d filler keys of 1000 bytes; the token kept in memory, one line logged)\n", os.Getuid(), n)
	return 0
}
