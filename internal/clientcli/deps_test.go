package clientcli

import (
	"os/exec"
	"regexp"
	"testing"
)

// The thin client runs at every shell prompt: it must not link net/http, the keyring, the
// service manager or oauth2 (those belong to the daemon and to client/lwhttp).
func TestThinClientLinksNoHeavyPackages(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/lwtoken-helper/lwtoken-helper/cmd/lwtoken-helper").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	bad := regexp.MustCompile(`(?m)^(net/http|.*keyring.*|.*kardianos.*|.*oauth2.*|.*godbus.*|github.com/lwtoken-helper/lwtoken-helper/(daemon|keystore|internal/lwauth|internal/config))$`)
	if m := bad.FindAllString(string(out), -1); len(m) > 0 {
		t.Fatalf("cmd/lwtoken-helper links %q", m)
	}
}
