package keystore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// DefaultTimeout is the deadline of one keyring call when Keyring.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// MaxPending bounds how many go-keyring calls may be running at once in this process,
// including calls whose caller has already given up (see Keyring). A call that finds every
// slot taken waits for one until its deadline, then fails with ErrTimeout.
const MaxPending = 16

// pending holds one token per go-keyring call running in this process.
var pending = make(chan struct{}, MaxPending)

// Keyring is the Store over the OS keyring (go-keyring): the Secret Service on Linux and the
// BSDs, the login Keychain on macOS, the Credential Manager on Windows. Items are stored
// under Service with the key as the user name. The zero value is ready to use and safe for
// concurrent use.
//
// Every call runs under a deadline: the earlier of ctx's and Timeout. go-keyring calls
// cannot be cancelled (a locked keyring may wait on an unlock prompt forever), so each runs
// in its own goroutine; when the deadline passes first, the method returns ErrTimeout and
// that goroutine lingers until the backend answers. A Set or Delete that timed out may
// therefore still take effect later. At most MaxPending such calls run at once in the
// process, so a hung keyring cannot pile up goroutines without limit. On macOS the call is
// a security(1) process, which is killed at the deadline instead (see contextBackend).
//
// Errors wrap one of ErrNotFound, ErrUnavailable, ErrLocked, ErrTooLarge or ErrTimeout, and
// name the operation and the key, never the value; Hint turns them into advice for users.
type Keyring struct {
	Service string        // "" means keystore.Service
	Timeout time.Duration // per call; 0 means DefaultTimeout

	backend backend       // nil means defaultBackend(); tests substitute a fake
	slots   chan struct{} // nil means the process-wide pending
}

var (
	_ Store      = (*Keyring)(nil)
	_ Secrets    = (*Keyring)(nil)
	_ TokenCache = (*Keyring)(nil)
)

// Describe names the keyring for status and doctor: "os keyring (secret service)" on Linux,
// and the platform's own keyring elsewhere.
func (k *Keyring) Describe() string {
	return "os keyring (" + keyringName(runtime.GOOS) + ")"
}

func keyringName(goos string) string {
	switch goos {
	case "darwin", "ios":
		return "macos keychain"
	case "windows":
		return "windows credential manager"
	}
	return "secret service"
}

// backend is the part of go-keyring's API Keyring uses.
type backend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// contextBackend is a backend whose calls end with their context: securityCLI kills the
// security process it runs, so a call past its deadline (a keychain waiting on a prompt)
// neither lingers nor holds one of the MaxPending slots. go-keyring's calls cannot be
// cancelled.
type contextBackend interface {
	getContext(ctx context.Context, service, user string) (string, error)
	setContext(ctx context.Context, service, user, password string) error
	deleteContext(ctx context.Context, service, user string) error
}

// goKeyring is go-keyring, with the bookkeeping of beginBackendCall around each call.
type goKeyring struct{}

func (goKeyring) Get(service, user string) (v string, err error) {
	end := beginBackendCall()
	defer func() { end(err) }()
	return keyring.Get(service, user)
}

func (goKeyring) Set(service, user, password string) (err error) {
	end := beginBackendCall()
	defer func() { end(err) }()
	return keyring.Set(service, user, password)
}

func (goKeyring) Delete(service, user string) (err error) {
	end := beginBackendCall()
	defer func() { end(err) }()
	return keyring.Delete(service, user)
}

func (k *Keyring) service() string {
	if k.Service == "" {
		return Service
	}
	return k.Service
}

// Get returns a copy of the value stored under key. It fails with ErrNotFound if there is
// none, and with the other sentinels as described on Keyring.
func (k *Keyring) Get(ctx context.Context, key string) ([]byte, error) {
	var v string
	err := k.do(ctx, "get", key, func(ctx context.Context, b backend, service string) error {
		var err error
		if cb, ok := b.(contextBackend); ok {
			v, err = cb.getContext(ctx, service, key)
		} else {
			v, err = b.Get(service, key)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return []byte(v), nil
}

// Set stores a copy of value under key, replacing any previous value. It fails early with
// ErrTooLarge when the platform's keyring cannot hold the value (about 2.9 KB on macOS,
// 2560 bytes on Windows; the Secret Service has no such limit).
func (k *Keyring) Set(ctx context.Context, key string, value []byte) error {
	service := k.service()
	if err := checkSize(runtime.GOOS, service, key, len(value)); err != nil {
		return opError("set", key, err)
	}
	v := string(value) // copied now: the caller may reuse value once Set returns, even on timeout
	return k.do(ctx, "set", key, func(ctx context.Context, b backend, service string) error {
		if cb, ok := b.(contextBackend); ok {
			return cb.setContext(ctx, service, key, v)
		}
		return b.Set(service, key, v)
	})
}

// Delete removes the value stored under key. It fails with ErrNotFound if there is none.
func (k *Keyring) Delete(ctx context.Context, key string) error {
	return k.do(ctx, "delete", key, func(ctx context.Context, b backend, service string) error {
		if cb, ok := b.(contextBackend); ok {
			return cb.deleteContext(ctx, service, key)
		}
		return b.Delete(service, key)
	})
}

// do runs call in its own goroutine under the deadline and translates its error. call gets
// the deadline's context, which ends when do returns: a contextBackend stops there.
func (k *Keyring) do(ctx context.Context, op, key string, call func(ctx context.Context, b backend, service string) error) error {
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errOwnTimeout)
	defer cancel()
	if ctx.Err() != nil { // checked first, so a done ctx never starts a backend call
		return timeoutError(ctx, op, key, timeout, "")
	}

	slots := k.slots
	if slots == nil {
		slots = pending
	}
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return timeoutError(ctx, op, key, timeout, fmt.Sprintf("; %d earlier keyring calls still pending", cap(slots)))
	}

	b := k.backend
	if b == nil {
		b = defaultBackend()
	}
	service := k.service()
	done := make(chan error, 1) // buffered: a lingering call finishes without a receiver
	go func() {
		defer func() { <-slots }()
		defer func() {
			// go-keyring's prompt handling type-asserts D-Bus signals unchecked; a
			// misbehaving Secret Service must not take the daemon down with it.
			if r := recover(); r != nil {
				done <- fmt.Errorf("keyring backend panicked: %v", r)
			}
		}()
		done <- call(ctx, b, service)
	}()
	select {
	case err := <-done:
		if err == nil {
			return nil
		}
		return opError(op, key, classify(runtime.GOOS, op, err))
	case <-ctx.Done():
		return timeoutError(ctx, op, key, timeout, "")
	}
}

var errOwnTimeout = errors.New("keystore: own timeout")

func timeoutError(ctx context.Context, op, key string, timeout time.Duration, extra string) error {
	if cause := context.Cause(ctx); cause != errOwnTimeout {
		// The caller's ctx ended first: keep its reason (context.Canceled or DeadlineExceeded).
		return fmt.Errorf("keystore: %s %q: %w: %w%s", op, key, ErrTimeout, cause, extra)
	}
	return fmt.Errorf("keystore: %s %q: %w (timeout %v%s)", op, key, ErrTimeout, timeout, extra)
}

func opError(op, key string, err error) error {
	return fmt.Errorf("keystore: %s %q: %w", op, key, err)
}

// Size limits of the keyring backends on other platforms.
const (
	// macOS: securityCLI stores "go-keyring-base64:" + base64(value) with the `security -i`
	// command line "add-generic-password -U -s SERVICE -a KEY -w PASSWORD\n", which security
	// reads only up to securityLineMax bytes.
	darwinCommandLimit = securityLineMax
	darwinCommand      = len("add-generic-password -U -s ") + len(" -a ") + len(" -w ") + len("\n")
	darwinValuePrefix  = len("go-keyring-base64:")
	// Windows: the credential blob may not exceed 2560 bytes.
	windowsValueLimit = 2560
)

// checkSize returns ErrTooLarge (wrapped) when a value of n bytes cannot be stored under
// service and key on goos.
func checkSize(goos, service, key string, n int) error {
	switch goos {
	case "darwin", "ios":
		// Conservative: count each ' and backslash of a name as five bytes (securityQuote
		// adds one).
		size := darwinCommand + quotedLen(service) + quotedLen(key) +
			2 + darwinValuePrefix + base64Len(n)
		if size > darwinCommandLimit {
			return fmt.Errorf("%w: %d bytes; the macOS keychain takes at most about %d", ErrTooLarge, n,
				maxDarwinValue(service, key))
		}
	case "windows":
		if n > windowsValueLimit {
			return fmt.Errorf("%w: %d bytes; the Windows credential manager takes at most %d", ErrTooLarge, n, windowsValueLimit)
		}
	}
	return nil
}

func quotedLen(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			n += 4
		}
	}
	return n
}

func base64Len(n int) int { return (n + 2) / 3 * 4 }

// maxDarwinValue is the largest value checkSize accepts on macOS for service and key.
func maxDarwinValue(service, key string) int {
	room := darwinCommandLimit - darwinCommand - quotedLen(service) - quotedLen(key) - 2 - darwinValuePrefix
	if room < 0 {
		return 0
	}
	return room / 4 * 3
}
