package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The revocation record makes revocation durable where the token cache is not writable.
// A revoke while the keyring is locked revokes the tokens at LINE WORKS and drops them from
// memory, but cannot delete their stored copies; a restarted daemon would load and serve
// them again. So every revoke first records, in a small file next to the config (which
// the daemon's user can always write in per-user mode, and which holds no secret), the
// time before which the profile's tokens count as revoked; a stored token issued at or
// before that time is never loaded, and is deleted when found. If the record exists but
// cannot be read, no stored token is loaded at all (fail closed: the daemon mints anew).

// revocationsName is the record's file name, in the config file's directory.
const revocationsName = "revocations.json"

type revocationRecord struct {
	V int `json:"v"`
	// RevokedBefore maps a profile to the time of its last revocation: its tokens issued
	// at or before it are revoked.
	RevokedBefore map[string]time.Time `json:"revoked_before"`
}

// revocationsMu serializes the record's read-modify-write within this process (one daemon
// runs per socket and config).
var revocationsMu sync.Mutex

func (d *Daemon) revocationsPath() string {
	return filepath.Join(filepath.Dir(d.opts.ConfigPath), revocationsName)
}

// readRevocations returns the record at path; an absent file is an empty record.
func readRevocations(path string) (map[string]time.Time, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("revocation record: %w", err)
	}
	var r revocationRecord
	if err := json.Unmarshal(b, &r); err != nil || r.V != 1 {
		return nil, fmt.Errorf("revocation record %s is unreadable", path)
	}
	return r.RevokedBefore, nil
}

// recordRevocation records that profile's tokens issued at or before at are revoked. Entries
// older than maxTokenLifetime (their tokens have expired) are dropped. The file is replaced
// atomically (a temporary file, then rename), mode 0600.
func recordRevocation(path, profile string, at time.Time) error {
	revocationsMu.Lock()
	defer revocationsMu.Unlock()
	m, err := readRevocations(path)
	if err != nil {
		m = nil // an unreadable record is replaced: the new one is at least as strict for this profile
	}
	r := revocationRecord{V: 1, RevokedBefore: map[string]time.Time{profile: at.UTC()}}
	for p, t := range m {
		if p != profile && at.Sub(t) < maxTokenLifetime+time.Hour {
			r.RevokedBefore[p] = t
		}
	}
	b, _ := json.Marshal(r)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".revocations-*")
	if err != nil {
		return fmt.Errorf("revocation record: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("revocation record: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("revocation record: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("revocation record: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("revocation record: %w", err)
	}
	return nil
}

// revokedStored reports whether a stored token of profile issued at issued must not be
// loaded: it was issued at or before the profile's last recorded revocation, or the record
// cannot be read (fail closed). reason says which, for the log.
func (d *Daemon) revokedStored(profile string, issued time.Time) (revoked bool, reason string) {
	m, err := readRevocations(d.revocationsPath())
	if err != nil {
		return true, err.Error()
	}
	if at, ok := m[profile]; ok && !issued.After(at) {
		return true, "issued before the profile's last revocation (" + at.Format(time.RFC3339) + ")"
	}
	return false, ""
}
