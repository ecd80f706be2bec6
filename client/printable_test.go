package client

import (
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain ascii":                       "plain ascii",
		"a\tb\nc\r\nd":                      "a b c  d",
		"\x1b]0;title\x07\x1b[2Jx":          "]0;title[2Jx",
		"csi\u009b31m del\x7f nul\x00":      "csi31m del nul",
		"bidi\u202eevil\u2066x\u2069\u200f": "bidievilx",
		"line\u2028sep":                     "line sep",
		"bad\xffutf8":                       "bad\ufffdutf8",
		"日本語 ok":                            "日本語 ok",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// scrub reaches every string of a reply: nested structs, pointers, slices; it leaves times
// alone.
func TestScrubReachesEveryString(t *testing.T) {
	exp := time.Unix(1700000000, 0).UTC()
	st := &wire.Status{Version: "\x1b1", Entries: []wire.EntryStatus{{Profile: "\x1b2", ExpiresAt: &exp}}, Profiles: []string{"\x1b3"}}
	scrub(st)
	if st.Version != "1" || st.Entries[0].Profile != "2" || st.Profiles[0] != "3" || !st.Entries[0].ExpiresAt.Equal(exp) {
		t.Fatalf("%+v", st)
	}
}

func TestTrustedServer(t *testing.T) {
	for _, c := range []struct {
		uid, self int
		want      bool
	}{{1000, 1000, true}, {0, 1000, true}, {0, 0, true}, {12345, 1000, false}, {1000, 0, false}} {
		if got := trustedServer(c.uid, c.self); got != c.want {
			t.Errorf("trustedServer(%d, %d) = %v", c.uid, c.self, got)
		}
	}
}

func BenchmarkScrubToken(b *testing.B) {
	tok := wire.Token{AccessToken: "kr1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", TokenType: "Bearer", Scope: "bot user.read", Profile: "default"}
	for b.Loop() {
		scrub(&tok)
	}
}
