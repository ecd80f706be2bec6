//go:build unix

package e2e

import (
	"strings"
	"testing"
)

// TestRevokedTokenNeverComesBack: with the real keyring locked, `revoke` revokes the token at
// LINE WORKS but cannot delete its stored copy. After a daemon restart with the keyring
// unlocked, that copy is not served: the daemon mints a new token, and deletes the copy
// (issue 12, item 9). Not parallel: it locks the shared Secret Service.
func TestRevokedTokenNeverComesBack(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	tok := x.getToken()
	up := breakKeyring(t, keyringFaults()[0]) // locked
	r := x.helper("revoke")
	if r.code != 1 || !strings.Contains(r.stderr, "revoked 1 tokens of profile") ||
		!strings.Contains(r.stderr, "no token stored until now will be served again") {
		t.Fatalf("revoke with the keyring locked: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if x.fake.Valid(tok) || x.fake.RevokeRequests() != 1 {
		t.Fatalf("the token was not revoked at line works (%d revoke requests)", x.fake.RevokeRequests())
	}
	x.stopDaemon()
	up()
	for i := range 2 { // the second restart finds no copy at all: it was deleted
		x.startDaemon()
		got := x.getToken()
		if got == tok {
			t.Fatalf("restart %d: the revoked token was served again", i+1)
		}
		if !x.fake.Valid(got) {
			t.Fatalf("restart %d: served a token line works does not know", i+1)
		}
		x.stopDaemon()
	}
	if n := strings.Count(x.log(), `ignoring a stored token" reason="issued before the profile's last revocation`); n != 1 {
		t.Fatalf("the stored revoked copy was ignored %d times, want once (then deleted):\n%s", n, x.log())
	}
}
