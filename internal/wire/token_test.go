package wire

import (
	"strings"
	"testing"
)

func TestValidAccessToken(t *testing.T) {
	for _, s := range []string{"tok", "kr1AAABc-._~+/9==", "a=", strings.Repeat("x", MaxAccessTokenBytes)} {
		if !ValidAccessToken(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "=", "tok\r\nX-Injected: 1", "tok\n", "a b", "tok\x00", "\x1b[2Jtok", "a=b", "tök",
		`a"b`, "a'b", "a;b", "a\tb", strings.Repeat("x", MaxAccessTokenBytes+1)} {
		if ValidAccessToken(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
