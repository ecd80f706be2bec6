package clientcli

import (
	"strings"
	"testing"

	"github.com/lwtoken-helper/lwtoken-helper/internal/cli"
)

func TestVersionStringPrefersLinkerCommit(t *testing.T) {
	defer func(v, c string) { cli.Version, cli.Commit = v, c }(cli.Version, cli.Commit)
	cli.Version, cli.Commit = "v1.2.3", "abcdef"
	if s := versionString(); !strings.HasPrefix(s, "v1.2.3 (abcdef) go") {
		t.Fatalf("versionString() = %q", s)
	}
}
