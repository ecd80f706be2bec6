package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
)

// TestRevocationRecordFailsClosed: a revocation record that exists but cannot be read makes
// the daemon load no stored token (it mints anew) rather than risk serving a revoked one; a
// revoke writes a fresh record (issue 12, item 9).
func TestRevocationRecordFailsClosed(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	h.stop()
	path := filepath.Join(filepath.Dir(h.cfg), revocationsName)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := h.fake.TokenRequests()
	lb := restartLogged(h, false, nil)
	got := h.mustGet(client.TokenRequest{})
	if got.AccessToken == tok.AccessToken || h.fake.TokenRequests() != before+1 || len(lb.lines("is unreadable")) == 0 {
		t.Fatalf("a stored token was loaded despite an unreadable revocation record:\n%s", lb)
	}
	if _, err := h.c.Revoke(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	m, err := readRevocations(path)
	if err != nil || m["default"].IsZero() {
		t.Fatalf("record after revoke: %v %v", m, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record mode: %v %v", fi, err)
	}
}

// TestRevocationRecordForgetsExpiredEntries: entries older than the longest token life are
// dropped at the next write, so the record stays small.
func TestRevocationRecordForgetsExpiredEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), revocationsName)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, p := range []string{"a", "b", "c"} {
		if err := recordRevocation(path, p, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := recordRevocation(path, "d", t0.Add(maxTokenLifetime+time.Hour+90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	m, err := readRevocations(path)
	if err != nil || len(m) != 2 || !m["c"].Equal(t0.Add(2*time.Hour)) || m["d"].IsZero() {
		t.Fatalf("record: %v %v", m, err)
	}
}
