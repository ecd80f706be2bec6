package keystore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Memory is an in-process Store for tests, and a TokenCache that keeps tokens only as long
// as the process lives (Describe: "memory"). It copies values in and out, is safe for
// concurrent use, and its errors read like Keyring's ("keystore: get \"KEY\": ..."), wrapping
// the same sentinels: ErrNotFound for a missing key, ErrTimeout when ctx is already done, and
// whatever SetError injected. The zero value is ready to use.
type Memory struct {
	mu                  sync.Mutex
	items               map[string][]byte
	err                 error
	gets, sets, deletes int
}

var (
	_ Store      = (*Memory)(nil)
	_ Secrets    = (*Memory)(nil)
	_ TokenCache = (*Memory)(nil)
)

// Describe returns "memory".
func (m *Memory) Describe() string { return "memory" }

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{} }

// SetError makes every following call fail with err (wrapped with the operation and key)
// until SetError(nil), without touching the stored values: use it to simulate a locked or
// vanished keyring, e.g. SetError(ErrLocked).
func (m *Memory) SetError(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// Calls reports how many times Get, Set and Delete were called, failed calls included.
func (m *Memory) Calls() (gets, sets, deletes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gets, m.sets, m.deletes
}

// Keys returns the stored keys, sorted.
func (m *Memory) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.items))
}

// Get returns a copy of the value under key, or ErrNotFound.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	if err := m.fail(ctx, "get", key); err != nil {
		return nil, err
	}
	v, ok := m.items[key]
	if !ok {
		return nil, opError("get", key, ErrNotFound)
	}
	return slices.Clone(v), nil
}

// Set stores a copy of value under key.
func (m *Memory) Set(ctx context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sets++
	if err := m.fail(ctx, "set", key); err != nil {
		return err
	}
	if m.items == nil {
		m.items = make(map[string][]byte)
	}
	v := make([]byte, len(value)) // non-nil even when empty, as a keyring returns
	copy(v, value)
	m.items[key] = v
	return nil
}

// Delete removes the value under key, or returns ErrNotFound.
func (m *Memory) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deletes++
	if err := m.fail(ctx, "delete", key); err != nil {
		return err
	}
	if _, ok := m.items[key]; !ok {
		return opError("delete", key, ErrNotFound)
	}
	delete(m.items, key)
	return nil
}

func (m *Memory) fail(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("keystore: %s %q: %w: %w", op, key, ErrTimeout, context.Cause(ctx))
	}
	if m.err != nil {
		return opError(op, key, m.err)
	}
	return nil
}
