package keystore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkeyring"
)

// helperEnv makes the test binary run helperMain instead of the tests: a child process with
// its own environment, because go-keyring shares one session-bus connection per process and
// keeps using it while it is connected, whatever DBUS_SESSION_BUS_ADDRESS says later.
const helperEnv = "KEYSTORE_TEST_HELPER"

// extraHelpers are other helper modes, registered by platform-specific test files.
var extraHelpers = map[string]func() int{}

// TestMain runs every test of this package against a real, isolated gnome-keyring. If it
// cannot be started, no test runs and the package fails.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if h := extraHelpers[mode]; h != nil {
			os.Exit(h())
		}
		os.Exit(helperMain(mode))
	}
	testkeyring.Main(m)
}

// serviceForTests keeps this package's items apart from anything else on the bus.
const serviceForTests = "lwtoken-helper-keystore-test"

func newKeyring() *Keyring { return &Keyring{Service: serviceForTests} }

// assertNoValue fails if err's text contains value or a sizeable piece of it.
func assertNoValue(t *testing.T, err error, value []byte) {
	t.Helper()
	if err == nil || len(value) == 0 {
		return
	}
	msg := err.Error()
	if strings.Contains(msg, string(value)) {
		t.Fatalf("error text contains the value: %q", msg)
	}
	if len(value) >= 16 {
		for i := 0; i+16 <= len(value); i += 8 {
			if strings.Contains(msg, string(value[i:i+16])) {
				t.Fatalf("error text contains part of the value: %q", msg)
			}
		}
	}
}

func wantErr(t *testing.T, err, sentinel error, op, key string, value []byte) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s %q: got error %v, want %v", op, key, err, sentinel)
	}
	if want := fmt.Sprintf("keystore: %s %q: ", op, key); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
	assertNoValue(t, err, value)
	if Hint(err) == "" {
		t.Errorf("no hint for %v", err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testStore is the contract every Store must keep; it runs against Keyring and Memory.
func testStore(t *testing.T, s Store, prefix string) {
	rsa2048, rsa4096 := testkey.PEM(testkey.App()), testkey.PEM(testkey.Sized(4096))
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	cases := []struct {
		name  string
		value []byte
	}{
		{"rsa-2048-pem", rsa2048},
		{"rsa-4096-pem", rsa4096},
		{"newlines-unicode", []byte("line one\nline two\r\n\tタブ und Umlaute äöü 🔑\n")},
		{"binary", binary},
		{"empty", []byte{}},
		{"large-64k", bytes.Repeat([]byte("0123456789abcdef"), 4096)},
	}
	ctx := ctxT(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := prefix + "/" + c.name
			if err := s.Set(ctx, key, c.value); err != nil {
				t.Fatalf("set: %v", err)
			}
			got, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if !bytes.Equal(got, c.value) {
				t.Fatalf("get returned %d bytes that differ from the %d set", len(got), len(c.value))
			}
			if got == nil {
				t.Errorf("get returned nil, want a non-nil slice")
			}

			other := append([]byte("overwritten:"), c.value...)
			if err := s.Set(ctx, key, other); err != nil {
				t.Fatalf("overwrite: %v", err)
			}
			if got, err := s.Get(ctx, key); err != nil || !bytes.Equal(got, other) {
				t.Fatalf("get after overwrite: %d bytes, %v", len(got), err)
			}

			if err := s.Delete(ctx, key); err != nil {
				t.Fatalf("delete: %v", err)
			}
			_, err = s.Get(ctx, key)
			wantErr(t, err, ErrNotFound, "get", key, other)
			wantErr(t, s.Delete(ctx, key), ErrNotFound, "delete", key, other)
		})
	}

	t.Run("copies", func(t *testing.T) {
		key := prefix + "/copies"
		v := []byte("original")
		if err := s.Set(ctx, key, v); err != nil {
			t.Fatal(err)
		}
		copy(v, "mutated!")
		got, err := s.Get(ctx, key)
		if err != nil || string(got) != "original" {
			t.Fatalf("get = %q, %v; want the value as it was at Set", got, err)
		}
		copy(got, "mutated!")
		if again, _ := s.Get(ctx, key); string(again) != "original" {
			t.Fatalf("changing Get's result changed the store: %q", again)
		}
		_ = s.Delete(ctx, key)
	})

	t.Run("keys-are-distinct", func(t *testing.T) {
		a, b := prefix+"/distinct-a", prefix+"/distinct-b"
		if err := s.Set(ctx, a, []byte("a")); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, b, []byte("b")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, a); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, b); err != nil || string(got) != "b" {
			t.Fatalf("get b after deleting a = %q, %v", got, err)
		}
		_ = s.Delete(ctx, b)
	})

	t.Run("canceled-context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		key := prefix + "/canceled"
		_, err := s.Get(cctx, key)
		wantErr(t, err, ErrTimeout, "get", key, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not wrap context.Canceled", err)
		}
		wantErr(t, s.Set(cctx, key, []byte("secret-value-123")), ErrTimeout, "set", key, []byte("secret-value-123"))
		if _, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("a set with a canceled context stored something: %v", err)
		}
	})
}

func TestKeyringStore(t *testing.T) {
	testStore(t, newKeyring(), "keyring")
}

func TestKeyringDefaultService(t *testing.T) {
	k := &Keyring{} // zero value: keystore.Service, DefaultTimeout
	ctx := ctxT(t)
	key := ClientSecretKey("keystore-test-zero-value")
	if err := k.Set(ctx, key, []byte("s3cr3t")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(context.Background(), key) })
	if _, err := newKeyring().Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("item stored under Service is visible under another service name: %v", err)
	}
	got, err := k.Get(ctx, key)
	if err != nil || string(got) != "s3cr3t" {
		t.Fatalf("get = %q, %v", got, err)
	}
}

func TestKeyringConcurrent(t *testing.T) {
	k := newKeyring()
	ctx := ctxT(t)
	const workers, rounds = 24, 5
	shared := "concurrent/shared"
	sharedValues := map[string]bool{}
	for w := range workers {
		sharedValues[fmt.Sprintf("shared value from worker %02d\n", w)] = true
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*4)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("concurrent/worker-%02d", w)
			for r := range rounds {
				want := fmt.Sprintf("worker %02d round %d: ключ\n", w, r)
				if err := k.Set(ctx, own, []byte(want)); err != nil {
					errs <- fmt.Errorf("set %s: %w", own, err)
					return
				}
				if err := k.Set(ctx, shared, []byte(fmt.Sprintf("shared value from worker %02d\n", w))); err != nil {
					errs <- fmt.Errorf("set shared: %w", err)
				}
				got, err := k.Get(ctx, own)
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("get %s = %q, %v; want %q", own, got, err, want)
				}
				got, err = k.Get(ctx, shared)
				if err != nil || !sharedValues[string(got)] {
					errs <- fmt.Errorf("get shared = %q, %v; want one whole value", got, err)
				}
			}
			if err := k.Delete(ctx, own); err != nil {
				errs <- fmt.Errorf("delete %s: %w", own, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_ = k.Delete(ctx, shared)
}

func TestKeyringLocked(t *testing.T) {
	env := testkeyring.Current()
	k := &Keyring{Service: serviceForTests, Timeout: 3 * time.Second}
	ctx := ctxT(t)
	key := "locked/item"
	value := []byte("value-stored-before-lock-0123456789")
	if err := k.Set(ctx, key, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(context.Background(), key) })

	if err := env.Lock(); err != nil {
		t.Fatal(err)
	}
	locked := true
	t.Cleanup(func() {
		if locked {
			if err := env.Unlock(); err != nil {
				t.Errorf("unlock in cleanup: %v", err)
			}
		}
	})

	start := time.Now()
	_, err := k.Get(ctx, key)
	wantErr(t, err, ErrLocked, "get", key, value)
	t.Logf("get on a locked keyring: %v after %v", err, time.Since(start))
	newValue := []byte("value-set-while-locked-9876543210")
	wantErr(t, k.Set(ctx, key, newValue), ErrLocked, "set", key, newValue)
	wantErr(t, k.Delete(ctx, key), ErrLocked, "delete", key, value)
	if d := time.Since(start); d >= k.Timeout {
		t.Errorf("three calls on a locked keyring took %v: they waited for a prompt", d)
	}

	if err := env.Unlock(); err != nil {
		t.Fatal(err)
	}
	locked = false
	got, err := k.Get(ctx, key)
	if err != nil || !bytes.Equal(got, value) {
		t.Fatalf("get after unlock = %q, %v; want the value from before the lock", got, err)
	}
}

func TestKeyringSecretServiceStopped(t *testing.T) {
	env := testkeyring.Current()
	k := &Keyring{Service: serviceForTests, Timeout: 3 * time.Second}
	ctx := ctxT(t)
	key := "stopped/item"
	value := []byte("value-that-survives-a-restart-42")
	if err := k.Set(ctx, key, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(context.Background(), key) })

	if err := env.StopSecretService(); err != nil {
		t.Fatal(err)
	}
	stopped := true
	t.Cleanup(func() {
		if stopped {
			if err := env.StartSecretService(); err != nil {
				t.Errorf("restart in cleanup: %v", err)
			}
		}
	})

	start := time.Now()
	_, err := k.Get(ctx, key)
	wantErr(t, err, ErrUnavailable, "get", key, value)
	t.Logf("get with the secret service stopped: %v after %v", err, time.Since(start))
	wantErr(t, k.Set(ctx, key, []byte("new-value-while-stopped-777")), ErrUnavailable, "set", key, []byte("new-value-while-stopped-777"))
	wantErr(t, k.Delete(ctx, key), ErrUnavailable, "delete", key, value)

	if err := env.StartSecretService(); err != nil {
		t.Fatal(err)
	}
	stopped = false
	got, err := k.Get(ctx, key)
	if err != nil || !bytes.Equal(got, value) {
		t.Fatalf("get after restart = %q, %v; want the value from before the stop", got, err)
	}
}

func TestKeyringTimeout(t *testing.T) {
	ctx := ctxT(t)
	t.Run("own-timeout", func(t *testing.T) {
		k := &Keyring{Service: serviceForTests, Timeout: time.Nanosecond}
		key := "timeout/ns"
		_, err := k.Get(ctx, key)
		wantErr(t, err, ErrTimeout, "get", key, nil)
		if !strings.Contains(err.Error(), "timeout 1ns") {
			t.Errorf("error %q does not say which timeout passed", err)
		}
		wantErr(t, k.Set(ctx, key, []byte("never-stored-value")), ErrTimeout, "set", key, []byte("never-stored-value"))
	})
	t.Run("caller-deadline", func(t *testing.T) {
		k := newKeyring()
		dctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-dctx.Done()
		_, err := k.Get(dctx, "timeout/deadline")
		wantErr(t, err, ErrTimeout, "get", "timeout/deadline", nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
		}
	})
	// Calls that timed out may still be running; they must finish and free their slots.
	waitSlotsFree(t, pending)
}

// hungBackend blocks every call until release is closed.
type hungBackend struct {
	release chan struct{}
	mu      sync.Mutex
	started int
	running int
	maxRun  int
}

func (h *hungBackend) enter() {
	h.mu.Lock()
	h.started++
	h.running++
	h.maxRun = max(h.maxRun, h.running)
	h.mu.Unlock()
	<-h.release
	h.mu.Lock()
	h.running--
	h.mu.Unlock()
}

func (h *hungBackend) Get(service, user string) (string, error) { h.enter(); return "late", nil }
func (h *hungBackend) Set(service, user, password string) error { h.enter(); return nil }
func (h *hungBackend) Delete(service, user string) error        { h.enter(); return nil }

func TestKeyringHungBackendBounded(t *testing.T) {
	const limit, calls = 3, 12
	h := &hungBackend{release: make(chan struct{})}
	slots := make(chan struct{}, limit)
	k := &Keyring{Service: serviceForTests, Timeout: 50 * time.Millisecond, backend: h, slots: slots}
	ctx := ctxT(t)

	var wg sync.WaitGroup
	errs := make([]error, calls)
	start := time.Now()
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_, errs[i] = k.Get(ctx, fmt.Sprintf("hung/%d", i))
			} else {
				errs[i] = k.Set(ctx, fmt.Sprintf("hung/%d", i), []byte("hung-secret-value"))
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d calls against a hung backend took %v", calls, d)
	}
	for i, err := range errs {
		op := "get"
		if i%2 == 1 {
			op = "set"
		}
		wantErr(t, err, ErrTimeout, op, fmt.Sprintf("hung/%d", i), []byte("hung-secret-value"))
	}
	h.mu.Lock()
	started, running := h.started, h.running
	h.mu.Unlock()
	if started > limit || running > limit {
		t.Fatalf("%d backend calls started (%d still running), want at most %d", started, running, limit)
	}
	if len(slots) != started {
		t.Errorf("%d slots taken, %d calls lingering", len(slots), started)
	}
	t.Logf("%d calls timed out; %d reached the backend and linger", calls, started)

	// More calls while the backend still hangs wait for a slot, then time out.
	_, err := k.Get(ctx, "hung/more")
	wantErr(t, err, ErrTimeout, "get", "hung/more", nil)
	if !strings.Contains(err.Error(), "still pending") {
		t.Errorf("error %q does not say that calls are pending", err)
	}

	close(h.release)
	waitSlotsFree(t, slots)
	if got, err := k.Get(ctx, "hung/after"); err != nil || string(got) != "late" {
		t.Fatalf("get after the backend recovered = %q, %v", got, err)
	}
	if h.maxRun > limit {
		t.Errorf("%d backend calls ran at once, want at most %d", h.maxRun, limit)
	}
}

func waitSlotsFree(t *testing.T, slots chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(slots) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d keyring calls still pending after 10s", len(slots))
		}
		time.Sleep(time.Millisecond)
	}
}

// helperResult is one call's outcome, reported by helperMain as a JSON line.
type helperResult struct {
	Op          string
	Err         string
	NotFound    bool
	Unavailable bool
	Hint        string
	Micros      int64
}

// helperOps are the calls helperMain makes, in order.
var helperOps = []string{"get", "set", "get", "delete"}

// helperMain runs helperOps with a Keyring in a child process whose environment the parent
// chose, and prints one helperResult per call.
func helperMain(mode string) int {
	k := &Keyring{Service: serviceForTests, Timeout: 3 * time.Second}
	ctx := context.Background()
	enc := json.NewEncoder(os.Stdout)
	key := "helper/" + mode
	for _, op := range helperOps {
		start := time.Now()
		var err error
		switch op {
		case "get":
			_, err = k.Get(ctx, key)
		case "set":
			err = k.Set(ctx, key, []byte("helper-secret-value"))
		case "delete":
			err = k.Delete(ctx, key)
		}
		r := helperResult{
			Op:          op,
			NotFound:    errors.Is(err, ErrNotFound),
			Unavailable: errors.Is(err, ErrUnavailable),
			Hint:        Hint(err),
			Micros:      time.Since(start).Microseconds(),
		}
		if err != nil {
			r.Err = err.Error()
		}
		if err := enc.Encode(r); err != nil {
			return 1
		}
	}
	return 0
}

// runHelper runs helperMain in a child process with extra environment variables.
func runHelper(t *testing.T, mode string, env ...string) []helperResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// GORACE: a -race binary otherwise sleeps 1 s before exiting.
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.Bytes())
	}
	var rs []helperResult
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r helperResult
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r.Err, "helper-secret-value") {
			t.Errorf("%s: error contains the value: %q", r.Op, r.Err)
		}
		rs = append(rs, r)
	}
	if len(rs) != len(helperOps) {
		t.Fatalf("helper reported %d results, want %d:\n%s", len(rs), len(helperOps), out)
	}
	return rs
}

// TestKeyringFirstCalls measures the first calls of a fresh process (connecting to the bus
// included) against the test Secret Service, which a child process finds through the
// environment testkeyring set. Logged, not asserted beyond "well under the timeout".
func TestKeyringFirstCalls(t *testing.T) {
	rs := runHelper(t, "first-calls")
	for i, r := range rs {
		t.Logf("%s: %v (%q)", r.Op, time.Duration(r.Micros)*time.Microsecond, r.Err)
		wantNotFound := i == 0
		if r.NotFound != wantNotFound || (!wantNotFound && r.Err != "") {
			t.Errorf("call %d (%s): error %q", i, r.Op, r.Err)
		}
		if r.Micros > time.Second.Microseconds() {
			t.Errorf("%s took %v", r.Op, time.Duration(r.Micros)*time.Microsecond)
		}
	}
}

func TestKeyringNoSessionBus(t *testing.T) {
	dir := t.TempDir()
	// A socket file nobody listens on: what a crashed bus leaves behind.
	stale := filepath.Join(dir, "stale-bus")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	cases := []struct {
		name, address, wantText string
	}{
		{"missing-socket", "unix:path=" + filepath.Join(dir, "no-such-bus"), "no such file or directory"},
		{"stale-socket", "unix:path=" + stale, "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range runHelper(t, c.name, "DBUS_SESSION_BUS_ADDRESS="+c.address) {
				t.Logf("%s: %s (%v)", r.Op, r.Err, time.Duration(r.Micros)*time.Microsecond)
				if !r.Unavailable {
					t.Errorf("%s: error %q is not ErrUnavailable", r.Op, r.Err)
				}
				if !strings.Contains(r.Err, "dial unix") || !strings.Contains(r.Err, c.wantText) {
					t.Errorf("%s: error %q does not carry the dial error", r.Op, r.Err)
				}
				if !strings.Contains(r.Hint, "Secret Service") {
					t.Errorf("%s: hint %q", r.Op, r.Hint)
				}
				if r.Micros > time.Second.Microseconds() {
					t.Errorf("%s took %v: a missing bus must fail fast", r.Op, time.Duration(r.Micros)*time.Microsecond)
				}
			}
		})
	}
}

// TestKeyringConcurrentDelete races Set, Get and Delete on one key: the only failure any of
// them may report is ErrNotFound (an item deleted between lookup and read included).
func TestKeyringConcurrentDelete(t *testing.T) {
	k := newKeyring()
	ctx := ctxT(t)
	key := "concurrent/set-get-delete"
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				var err error
				switch (w + i) % 3 {
				case 0:
					err = k.Set(ctx, key, []byte("racing value"))
				case 1:
					var got []byte
					got, err = k.Get(ctx, key)
					if err == nil && string(got) != "racing value" {
						t.Errorf("get = %q", got)
					}
				case 2:
					err = k.Delete(ctx, key)
				}
				mu.Lock()
				if err != nil {
					seen[err.Error()]++
				} else {
					seen["ok"]++
				}
				mu.Unlock()
				if err != nil && !errors.Is(err, ErrNotFound) {
					t.Errorf("unexpected error: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	for k, v := range seen {
		t.Logf("%4d × %s", v, k)
	}
	_ = k.Delete(ctx, key)
}

type panickyBackend struct{}

func (panickyBackend) Get(service, user string) (string, error) { panic("interface conversion") }
func (panickyBackend) Set(service, user, password string) error { panic("interface conversion") }
func (panickyBackend) Delete(service, user string) error        { panic("interface conversion") }

func TestKeyringBackendPanic(t *testing.T) {
	k := &Keyring{backend: panickyBackend{}, slots: make(chan struct{}, 1)}
	_, err := k.Get(context.Background(), "panic/key")
	wantErr(t, err, ErrUnavailable, "get", "panic/key", nil)
	if !strings.Contains(err.Error(), "panicked") {
		t.Errorf("error %q", err)
	}
	waitSlotsFree(t, k.slots)
}
