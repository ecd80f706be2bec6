package daemoncli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRotatingLogIsBounded: past max bytes the log moves to .1 (replacing the older one) and
// starts again, so it never takes much more than twice max; no line is split or lost
// between the two files of the last rotation.
func TestRotatingLogIsBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lwtoken-helper.log")
	var redirected []string
	l, err := openRotatingLog(path, 4096, func(f *os.File) error { redirected = append(redirected, f.Name()); return nil })
	if err != nil {
		t.Fatal(err)
	}
	line := func(i int) string {
		return fmt.Sprintf("time=... level=INFO msg=\"token served\" n=%06d %s\n", i, strings.Repeat("x", 40))
	}
	const n = 1000
	for i := range n {
		if _, err := l.Write([]byte(line(i))); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if len(cur) > 4096 || len(old) > 4096 || len(old) < 4096-len(line(0)) {
		t.Fatalf("sizes: %d and %d, want each at most 4096 and .1 nearly full", len(cur), len(old))
	}
	// The newest lines are in order across .1 and the current file, and end with the last.
	all := string(old) + string(cur)
	lines := strings.Split(strings.TrimSuffix(all, "\n"), "\n")
	first := n - len(lines)
	for i, got := range lines {
		if got+"\n" != line(first+i) {
			t.Fatalf("line %d of the last two files is %q, want %q", i, got, line(first+i))
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("files: %v, want the log and .1", ents)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// stdout and stderr follow every file the log opens (first open, then each rotation).
	if len(redirected) < 10 || redirected[0] != path || redirected[len(redirected)-1] != path {
		t.Fatalf("redirected %d times: %v", len(redirected), redirected[:min(3, len(redirected))])
	}
}

func TestFatalExitStatus(t *testing.T) {
	for _, c := range []struct {
		args []string
		n    int
		ok   bool
	}{
		{[]string{"--fatal-exit-status", "0"}, 0, true},
		{[]string{"--bogus", "-fatal-exit-status=0"}, 0, true}, // found even after a bad flag
		{[]string{"--socket", "/s", "--fatal-exit-status=3"}, 3, true},
		{[]string{"--fatal-exit-status", "256"}, 0, false},
		{[]string{"--fatal-exit-status", "-1"}, 0, false},
		{[]string{"--fatal-exit-status"}, 0, false},
		{[]string{"--", "--fatal-exit-status", "0"}, 0, false},
		{[]string{"--log-level", "info"}, 0, false},
	} {
		if n, ok := fatalExitStatus(c.args); ok != c.ok || (ok && n != c.n) {
			t.Errorf("%q: %d %v, want %d %v", c.args, n, ok, c.n, c.ok)
		}
	}
}
