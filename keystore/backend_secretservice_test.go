//go:build linux

package keystore

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkeyring"
)

// TestKeyringLockedDoesNotLeak: every go-keyring call on a locked keyring leaves a signal
// channel on the shared session-bus connection, and the goroutines parked on them grow with
// the square of the number of calls (see backend_secretservice.go). Keyring resets the
// connection after such a call; this holds the goroutine count flat over many locked calls.
func TestKeyringLockedDoesNotLeak(t *testing.T) {
	env := testkeyring.Current()
	k := newKeyring()
	ctx := ctxT(t)
	key := "locked/leak"
	if err := k.Set(ctx, key, []byte("v")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(ctx, key) })
	if err := env.Lock(); err != nil {
		t.Fatal(err)
	}
	locked := true
	t.Cleanup(func() {
		if locked {
			_ = env.Unlock()
		}
	})

	resets := busResets.Load()
	settle := func() int {
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settle()
	const calls = 60
	for range calls {
		if _, err := k.Get(ctx, key); !errors.Is(err, ErrLocked) {
			t.Fatalf("get on a locked keyring: %v", err)
		}
	}
	after := settle()
	t.Logf("goroutines: %d before, %d after %d locked calls; %d connection resets", before, after, calls, busResets.Load()-resets)
	if after-before > 20 {
		t.Errorf("%d goroutines more after %d locked calls", after-before, calls)
	}
	if busResets.Load() == resets {
		t.Errorf("no session-bus reset after locked calls")
	}

	if err := env.Unlock(); err != nil {
		t.Fatal(err)
	}
	locked = false
	if got, err := k.Get(ctx, key); err != nil || string(got) != "v" {
		t.Fatalf("get after unlock (on a reopened connection) = %q, %v", got, err)
	}
}
