package clientcli

import (
	"strings"
	"testing"
)

func TestVersionStringPrefersLinkerCommit(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	Version, Commit = "v1.2.3", "abcdef"
	if s := versionString(); !strings.HasPrefix(s, "v1.2.3 (abcdef) go") {
		t.Fatalf("versionString() = %q", s)
	}
}
