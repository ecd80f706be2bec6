package daemoncli

import (
	"bytes"
	"testing"
)

// TestRunRefusesWhereItCannotCheckPeers: on Windows (and any OS without peer credentials)
// `run` stops with one error line, a hint and exit 1 instead of serving nobody; on Linux and
// macOS it goes on.
func TestRunRefusesWhereItCannotCheckPeers(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		if e := servePlatformError(goos); e != nil {
			t.Errorf("%s: refused: %s", goos, e.msg)
		}
	}
	for goos, want := range map[string]string{
		"windows": "lwtoken-helperd: error: run: the daemon does not run on windows: it cannot tell which user connects to its socket, so it could serve nobody safely\n" +
			"lwtoken-helperd: hint: run lwtoken-helperd on linux or macOS, e.g. inside WSL 2, and use lwtoken-helper there\n",
		"freebsd": "lwtoken-helperd: error: run: the daemon does not run on freebsd: it checks each client's uid with the kernel's peer credentials, which it reads only on linux and macOS\n" +
			"lwtoken-helperd: hint: run lwtoken-helperd on linux or macOS\n",
	} {
		e := servePlatformError(goos)
		if e == nil {
			t.Fatalf("%s: not refused", goos)
		}
		var stderr bytes.Buffer
		if code := e.report(&Env{Stderr: &stderr}, "run"); code != ExitError || stderr.String() != want {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 1 and:\n%s", goos, code, stderr.String(), want)
		}
	}
}
