package keystore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestMemoryStore(t *testing.T) {
	testStore(t, NewMemory(), "memory")
}

func TestMemoryZeroValue(t *testing.T) {
	var m Memory
	ctx := context.Background()
	if _, err := m.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get on zero Memory: %v", err)
	}
	if err := m.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

func TestMemorySetError(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	if err := m.Set(ctx, "a", []byte("value-a")); err != nil {
		t.Fatal(err)
	}
	for _, injected := range []error{ErrLocked, ErrUnavailable, ErrTimeout, errors.New("boom")} {
		m.SetError(injected)
		_, err := m.Get(ctx, "a")
		wantOp(t, err, injected, "get", "a")
		wantOp(t, m.Set(ctx, "a", []byte("value-b")), injected, "set", "a")
		wantOp(t, m.Delete(ctx, "a"), injected, "delete", "a")
	}
	m.SetError(nil)
	got, err := m.Get(ctx, "a")
	if err != nil || string(got) != "value-a" {
		t.Fatalf("after SetError(nil): %q, %v; want the value from before", got, err)
	}
}

func wantOp(t *testing.T, err, sentinel error, op, key string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got %v, want %v", op, err, sentinel)
	}
	if want := fmt.Sprintf("keystore: %s %q: %v", op, key, sentinel); err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
}

func TestMemoryCallsAndKeys(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	for _, k := range []string{"c", "a", "b"} {
		_ = m.Set(ctx, k, []byte(k))
	}
	_, _ = m.Get(ctx, "a")
	_, _ = m.Get(ctx, "missing")
	_ = m.Delete(ctx, "c")
	m.SetError(ErrLocked)
	_, _ = m.Get(ctx, "a") // failed calls count too
	m.SetError(nil)
	if g, s, d := m.Calls(); g != 3 || s != 3 || d != 1 {
		t.Errorf("Calls() = %d, %d, %d; want 3, 3, 1", g, s, d)
	}
	if got := m.Keys(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Keys() = %q", got)
	}
	if got := NewMemory().Keys(); len(got) != 0 {
		t.Errorf("Keys() of an empty Memory = %q", got)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%d", w)
			for i := range 100 {
				v := []byte(fmt.Sprintf("%d-%d", w, i))
				if err := m.Set(ctx, key, v); err != nil {
					t.Error(err)
					return
				}
				if got, err := m.Get(ctx, key); err != nil || string(got) != string(v) {
					t.Errorf("get %s = %q, %v", key, got, err)
					return
				}
				_ = m.Set(ctx, "shared", v)
				_, _ = m.Get(ctx, "shared")
				_ = m.Keys()
				_, _, _ = m.Calls()
				if i == 50 {
					m.SetError(nil)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(m.Keys()); n != 17 {
		t.Errorf("%d keys, want 17", n)
	}
}
