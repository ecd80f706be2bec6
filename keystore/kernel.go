package keystore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Expiring is implemented by a TokenCache that can forget an item by itself at a given time
// (KernelKeyring); the daemon stores tokens through it with their expiry.
type Expiring interface {
	SetUntil(ctx context.Context, key string, value []byte, expiry time.Time) error
}

// The log lines KernelKeyring writes, once each (operators and tests grep for them).
const (
	KernelKeyringUnavailable = "token cache: kernel keyring unavailable, keeping tokens in memory"
	KernelKeyringQuotaFull   = "token cache: kernel keyring quota full, keeping new tokens in memory"
)

// kernelKeyPerm is the permission mask of every key KernelKeyring creates: everything for a
// possessor (the daemon while it creates the key), and view, read and search for the user
// (the daemon's next process, which may not possess the user keyring: a system unit's
// default KeyringMode=private gives it a session keyring that does not link it). No one
// else, and no write for the user: a token is replaced by linking a new key over it.
const kernelKeyPerm = 0x3f0b0000

// KernelKeyring is a TokenCache in the Linux kernel's keyring: each item is a key of type
// "user" in the user keyring (@u) of the daemon's uid, so a restarted daemon (a new
// container with the same uid and kernel, a restarted unit) finds its tokens and mints
// nothing. Keys get explicit permissions (possessor: all; user: view, read, search; others:
// none) and, through SetUntil, a timeout at the token's expiry. A key is created in the
// process keyring, given its permissions and timeout, then linked into @u (replacing the
// key of the same description there) and unlinked from the process keyring, which works
// whether or not the process possesses @u (systemd's KeyringMode=private).
//
// Where keyctl is blocked (EPERM or ENOSYS: Docker's default seccomp profile, systemd-nspawn's
// filter) or on other systems, KernelKeyring keeps everything in memory, says so once on its
// logger (KernelKeyringUnavailable) and never fails. When the user's key quota is full
// (kernel.keys.maxkeys and maxbytes: 200 keys and 20000 bytes per non-root uid by default),
// the items that do not fit stay in memory, said once (KernelKeyringQuotaFull). It refuses
// to hold a private key or client secret (keys named by PrivateKeyKey or ClientSecretKey).
//
// Descriptions are "lwtoken-helper:NS:KEY", NS a digest of the namespace given to
// NewKernelKeyring, so that daemons of one uid with different sockets keep apart.
type KernelKeyring struct {
	ns  string
	mem *Memory
	sys keyctl // nil: no kernel keyring on this system

	mu      sync.Mutex
	log     *slog.Logger
	started bool
	off     error // why the kernel keyring is not used; nil: it is
	full    bool  // the quota line was logged
}

var (
	_ TokenCache = (*KernelKeyring)(nil)
	_ Expiring   = (*KernelKeyring)(nil)
)

// keyctl is the part of the kernel's key management KernelKeyring uses (tests substitute
// failures). Errors are syscall errnos.
type keyctl interface {
	userKeyring() (int, error) // the id of @u, created if needed
	search(ring int, desc string) (int, error)
	read(id int) ([]byte, error)
	add(desc string, payload []byte) (int, error) // a "user" key in the process keyring
	setperm(id int, perm uint32) error
	settimeout(id int, seconds uint) error
	link(id, ring int) error
	unlinkProcess(id int) error // from the process keyring
	unlink(id, ring int) error
	uid() int
}

// NewKernelKeyring returns the kernel keyring cache of this process's user, its items
// named under namespace (e.g. the daemon's socket path). Nothing is probed until Start or
// the first call.
func NewKernelKeyring(namespace string) *KernelKeyring {
	sum := sha256.Sum256([]byte(namespace))
	return &KernelKeyring{ns: hex.EncodeToString(sum[:4]), mem: NewMemory(), sys: systemKeyctl(), log: slog.New(slog.DiscardHandler)}
}

// Start sets the logger and checks at once whether the kernel keyring can be used, logging
// KernelKeyringUnavailable (once) if not. Calls before Start log nothing.
func (k *KernelKeyring) Start(log *slog.Logger) {
	k.mu.Lock()
	if log != nil {
		k.log = log
	}
	k.mu.Unlock()
	k.usable()
}

// Describe says where tokens are kept: "kernel keyring (user keyring of uid N)", or
// "memory (kernel keyring unavailable: REASON)".
func (k *KernelKeyring) Describe() string {
	if !k.usable() {
		k.mu.Lock()
		defer k.mu.Unlock()
		return "memory (kernel keyring unavailable: " + k.off.Error() + ")"
	}
	return fmt.Sprintf("kernel keyring (user keyring of uid %d)", k.sys.uid())
}

// usable reports whether the kernel keyring is in use, probing it the first time.
func (k *KernelKeyring) usable() bool {
	k.mu.Lock()
	started := k.started
	k.started = true
	k.mu.Unlock()
	if !started {
		if k.sys == nil {
			k.disable(errors.New("not a linux kernel"))
		} else if _, err := k.sys.userKeyring(); err != nil {
			k.disable(err)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.off == nil
}

// disable switches to memory for good, saying so once.
func (k *KernelKeyring) disable(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.off != nil {
		return
	}
	k.off = err
	k.log.Warn(KernelKeyringUnavailable, "err", err.Error())
}

func (k *KernelKeyring) desc(key string) string { return "lwtoken-helper:" + k.ns + ":" + key }

// Get returns the item under key: from memory if it was kept there (newer), else from the
// kernel keyring. A key that is absent, expired or not readable by this process is
// ErrNotFound.
func (k *KernelKeyring) Get(ctx context.Context, key string) ([]byte, error) {
	if v, err := k.mem.Get(ctx, key); err == nil || !errors.Is(err, ErrNotFound) {
		return v, err
	}
	if !k.usable() {
		return nil, opError("get", key, ErrNotFound)
	}
	id, err := k.sys.search(KeySpecUserKeyring, k.desc(key))
	if err == nil {
		var b []byte
		if b, err = k.sys.read(id); err == nil {
			return b, nil
		}
	}
	return nil, k.fail("get", key, err)
}

// Set stores value under key with no timeout (see SetUntil).
func (k *KernelKeyring) Set(ctx context.Context, key string, value []byte) error {
	return k.SetUntil(ctx, key, value, time.Time{})
}

// SetUntil stores value under key, replacing what was there in one step; the kernel forgets
// it at expiry (zero: never). An item that expired already is not stored. Only when the
// kernel keyring cannot be used, or its quota is full, does the item stay in memory instead.
func (k *KernelKeyring) SetUntil(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("keystore: set %q: %w: %w", key, ErrTimeout, err)
	}
	if strings.HasSuffix(key, "/private-key") || strings.HasSuffix(key, "/client-secret") {
		return opError("set", key, errors.New("the kernel keyring caches tokens only, never a private key or client secret"))
	}
	var secs uint
	if !expiry.IsZero() {
		left := time.Until(expiry)
		if left <= 0 {
			k.mem.Delete(ctx, key)
			return nil
		}
		secs = uint((left + time.Second - 1) / time.Second)
	}
	if !k.usable() {
		return k.mem.Set(ctx, key, value)
	}
	if err := k.setKernel(key, value, secs); err != nil {
		ferr := k.fail("set", key, err)
		if errors.Is(ferr, ErrNotFound) || k.quotaFull(err) {
			return k.mem.Set(ctx, key, value) // blocked or full: memory
		}
		return ferr
	}
	if err := k.mem.Delete(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

func (k *KernelKeyring) setKernel(key string, value []byte, secs uint) error {
	id, err := k.sys.add(k.desc(key), value)
	if err != nil {
		return err
	}
	defer k.sys.unlinkProcess(id)
	if err := k.sys.setperm(id, kernelKeyPerm); err != nil {
		return err
	}
	if secs > 0 {
		if err := k.sys.settimeout(id, secs); err != nil {
			return err
		}
	}
	return k.sys.link(id, KeySpecUserKeyring)
}

// Delete removes the item under key from memory and the kernel keyring. It fails with
// ErrNotFound if neither held it.
func (k *KernelKeyring) Delete(ctx context.Context, key string) error {
	merr := k.mem.Delete(ctx, key)
	if merr != nil && !errors.Is(merr, ErrNotFound) {
		return merr
	}
	if !k.usable() {
		return merr
	}
	id, err := k.sys.search(KeySpecUserKeyring, k.desc(key))
	if err == nil {
		err = k.sys.unlink(id, KeySpecUserKeyring)
	}
	if err == nil {
		return nil
	}
	ferr := k.fail("delete", key, err)
	if errors.Is(ferr, ErrNotFound) {
		return merr // gone from the kernel keyring; found in memory or not at all
	}
	return ferr
}

// KeySpecUserKeyring is the kernel's special id of the user keyring (@u).
const KeySpecUserKeyring = -4
