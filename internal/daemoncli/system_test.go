//go:build linux

package daemoncli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/sdcreds"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// systemFixture points the --system-user layout at temporary directories and systemd-creds
// at a host key of the test's own ($SYSTEMD_CREDENTIAL_SECRET), so the machine's /etc and
// its real host key are never touched. The verbs need root (they refuse otherwise).
func systemFixture(t *testing.T) (etc, units, hostKey string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("--system-user needs root (CI runs as root; scripts/systemd-server-test.sh covers it under systemd)")
	}
	if _, err := exec.LookPath("systemd-creds"); err != nil {
		t.Fatal("systemd-creds is needed (Debian package systemd): ", err)
	}
	dir := t.TempDir()
	etc, units, hostKey = filepath.Join(dir, "etc"), filepath.Join(dir, "units"), filepath.Join(dir, "credential.secret")
	os.Mkdir(etc, 0o755)
	os.Mkdir(units, 0o755)
	oldEtc, oldUnits := systemConfigBase, systemUnitDir
	systemConfigBase, systemUnitDir = etc, units
	t.Cleanup(func() { systemConfigBase, systemUnitDir = oldEtc, oldUnits })
	t.Setenv("SYSTEMD_CREDENTIAL_SECRET", hostKey)
	t.Setenv("LWTOKEN_HELPER_CONFIG", "")
	return etc, units, hostKey
}

func TestSetupSystemUserStoresOnlyCiphertext(t *testing.T) {
	etc, _, _ := systemFixture(t)
	keyFile, keyPEM := writeTestKey(t)
	const cs = "system-client-secret-value"
	code, out, errs := svcRun(t, cs+"\n", "setup", "--system-user", "nobody", "--profile", "default", "--client-id", "cid",
		"--service-account", "sa.serviceaccount@example.com", "--domain-id", "12345", "--scope", "bot user.read", "--private-key-file", keyFile)
	if code != 0 {
		t.Fatalf("setup: %d\n%s%s", code, out, errs)
	}
	t.Logf("setup printed:\n%s%s", out, errs)
	for _, want := range []string{`profile "default" added for system user nobody`, "sealed with the host key", "no usable TPM2 here", "shred -u", "install --system-user nobody"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.Contains(errs, "is not on encrypted media") {
		t.Errorf("no warning about the host key on unencrypted media: %q", errs)
	}
	dir := filepath.Join(etc, "nobody")
	cfg, err := config.Load(filepath.Join(dir, "config.toml"))
	if err != nil || cfg.Profiles["default"] == nil || cfg.Profiles["default"].DomainID != "12345" {
		t.Fatalf("config: %+v %v", cfg, err)
	}
	checkMode(t, filepath.Join(dir, "config.toml"), 0o644)
	checkMode(t, filepath.Join(dir, "credentials"), 0o700|os.ModeDir)
	for id, plain := range map[string]string{"default.private-key": string(keyPEM), "default.client-secret": cs} {
		p := filepath.Join(dir, "credentials", id+".cred")
		checkMode(t, p, 0o600)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), strings.TrimSpace(plain)) || strings.Contains(string(b), "PRIVATE KEY") {
			t.Fatalf("%s holds plaintext", p)
		}
		if k, err := sdcreds.SealedWith(b); err != nil || k != sdcreds.KeyHost {
			t.Fatalf("%s sealed with %q, %v", p, k, err)
		}
		// The name is bound: it decrypts under its own id only (what the unit uses).
		if err := sdcreds.CheckDecrypt(context.Background(), id, p); err != nil {
			t.Fatalf("%s does not decrypt: %v", p, err)
		}
	}
	// Nothing else in the tree: no plaintext copy anywhere.
	filepath.Walk(etc, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), cs) || strings.Contains(string(b), "PRIVATE KEY") {
				t.Errorf("plaintext secret in %s", p)
			}
		}
		return nil
	})

	// Rerun with a new scope only: the profile is updated, the credentials are kept.
	before, _ := os.ReadFile(filepath.Join(dir, "credentials", "default.private-key.cred"))
	code, out, errs = svcRun(t, "", "setup", "--system-user", "nobody", "--profile", "default", "--scope", "bot")
	if code != 0 || !strings.Contains(out, `profile "default" updated`) {
		t.Fatalf("update: %d\n%s%s", code, out, errs)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "credentials", "default.private-key.cred"))
	if string(before) != string(after) {
		t.Fatal("an update without a key rewrote the key's credential")
	}
	if cfg, _ := config.Load(filepath.Join(dir, "config.toml")); strings.Join(cfg.Profiles["default"].Scopes, " ") != "bot" {
		t.Fatalf("scopes not updated: %v", cfg.Profiles["default"].Scopes)
	}
	// A new profile without its key is refused and changes nothing.
	code, _, errs = svcRun(t, "x\n", "setup", "--system-user", "nobody", "--profile", "other", "--client-id", "c",
		"--service-account", "s@example.com", "--scope", "bot")
	if code != ExitUsage || !strings.Contains(errs, "--private-key-file") {
		t.Fatalf("new profile without key: %d %s", code, errs)
	}
}

func TestSetupSystemUserRefusals(t *testing.T) {
	systemFixture(t)
	keyFile, _ := writeTestKey(t)
	base := []string{"--profile", "default", "--client-id", "cid", "--service-account", "sa@example.com", "--scope", "bot", "--private-key-file", keyFile}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{append([]string{"setup", "--system-user", "root"}, base...), ExitUsage, "must not be root"},
		{append([]string{"setup", "--system-user", "no-such-user-xyz"}, base...), ExitUsage, "no user"},
		{append([]string{"setup", "--system-user", "nobody", "--with-key", "magic"}, base...), ExitUsage, "--with-key"},
		{append([]string{"setup", "--system-user", "nobody", "--delete"}, base...), ExitUsage, "uninstall --system-user nobody --purge"},
	} {
		code, out, errs := svcRun(t, "s\n", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.want, out, errs)
		}
	}
	// An explicit TPM2 where there is none fails with systemd-creds' reason and writes nothing.
	if _, err := os.Stat("/dev/tpmrm0"); err != nil {
		code, out, errs := svcRun(t, "s\n", append([]string{"setup", "--system-user", "nobody", "--with-key", "tpm2"}, base...)...)
		if code != ExitError || !strings.Contains(errs, "TPM2") || !strings.Contains(errs, "nothing was changed") {
			t.Errorf("tpm2 without a TPM: %d\n%s%s", code, out, errs)
		}
		if _, err := os.Stat(filepath.Join(systemConfigBase, "nobody")); err == nil {
			t.Error("a failed encryption left files behind")
		}
	}
}

// systemd older than 250 (Ubuntu 22.04): a clear error that names the alternatives.
func TestSetupSystemUserOldSystemd(t *testing.T) {
	systemFixture(t)
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "systemctl"), []byte("#!/bin/sh\necho 'systemd 249 (249.11-0ubuntu3.12)'\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	keyFile, _ := writeTestKey(t)
	code, out, errs := svcRun(t, "s\n", "setup", "--system-user", "nobody", "--client-id", "c", "--service-account", "s@example.com", "--scope", "bot", "--private-key-file", keyFile)
	svcWantCLIError(t, errs, "needs systemd 250 or later for encrypted credentials, and this machine has systemd 249")
	if code != ExitNoServiceManager || !strings.Contains(errs, "LoadCredential=") || !strings.Contains(errs, "--credentials-dir") || !strings.Contains(errs, "desktop keyring") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

// The units install writes: the template and the instance's drop-ins, checked by the real
// systemd-analyze (offline) and for the directives the issue asks for.
func TestSystemUnitsRender(t *testing.T) {
	_, units, _ := systemFixture(t)
	tgt, err := lookupSystemUser("nobody")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Profiles: map[string]*config.Profile{"default": {}, "b": {}}}
	tmpl := string(systemTemplateUnit())
	for _, want := range []string{"Type=notify", "User=%i", "RestartPreventExitStatus=64 78 243", "RuntimeDirectoryMode=0700",
		"KeyringMode=shared", "WantedBy=multi-user.target", "StartLimitIntervalSec=0"} {
		if !strings.Contains(tmpl, want+"\n") {
			t.Errorf("template lacks %s", want)
		}
	}
	for _, d := range sandboxDirectives { // one list for both units
		if !strings.Contains(tmpl, d+"\n") || !strings.Contains(systemdUnit(), d+"\n") {
			t.Errorf("sandbox directive %s missing from a unit", d)
		}
	}
	run := string(tgt.renderRunDropIn(systemSpec{executable: "/usr/local/bin/lwtoken-helperd", logLevel: "info",
		httpsProxy: "http://proxy.example:3128", noProxy: "localhost,.corp.example"}))
	for _, want := range []string{
		"RuntimeDirectory=lwtoken-helper/65534",
		"ExecStart=/usr/local/bin/lwtoken-helperd run --socket /run/lwtoken-helper/65534/sock --config " + filepath.Join(systemConfigBase, "nobody", "config.toml") + " --log-level info",
		"Environment=HTTPS_PROXY=http://proxy.example:3128", "Environment=NO_PROXY=localhost,.corp.example"} {
		if !strings.Contains(run, want+"\n") {
			t.Errorf("run drop-in lacks %s:\n%s", want, run)
		}
	}
	creds := string(tgt.credentialsDropIn(cfg))
	for _, id := range []string{"b.private-key", "b.client-secret", "default.private-key", "default.client-secret"} {
		if !strings.Contains(creds, fmt.Sprintf("LoadCredentialEncrypted=%s:%s\n", id, tgt.credPath(id))) {
			t.Errorf("credentials drop-in lacks %s:\n%s", id, creds)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is needed (Debian package systemd): ", err)
	}
	exe := filepath.Join(t.TempDir(), "lwtoken-helperd")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(units, systemTemplate), []byte(tmpl), 0o644)
	os.MkdirAll(tgt.dropInDir(), 0o755)
	os.WriteFile(tgt.runDropIn(), tgt.renderRunDropIn(systemSpec{executable: exe, logLevel: "info"}), 0o644)
	os.WriteFile(tgt.credDropIn(), []byte(creds), 0o644)
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(units, tgt.unit()))
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+units+":")
	out, err := cmd.CombinedOutput()
	// Offline, the credential files need not exist; anything printed is a finding, except
	// systemd's remark on the test's user: this machine has no dedicated user to spare.
	var findings []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.Contains(l, "Special user nobody configured") {
			findings = append(findings, l)
		}
	}
	if err != nil || len(findings) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestProxyFlags: an admin's proxy is checked before it reaches a unit file.
func TestProxyFlags(t *testing.T) {
	for _, tc := range []struct {
		proxy, no string
		ok        bool
	}{
		{"http://proxy.example:3128", "localhost,127.0.0.1,.corp.example,10.0.0.0/8", true},
		{"https://proxy.example", "", true},
		{"socks5://127.0.0.1:1080", "", true},
		{"", "", true},
		{"http://user:pw@proxy.example:3128", "", false},
		{"proxy.example:3128", "", false},
		{"ftp://proxy.example", "", false},
		{"http://proxy.example/%i", "", false},
		{"http://proxy.example/$HOME", "", false},
		{"http://proxy.example", "a b", false},
		{"http://proxy.example", "a\nEnvironment=X=1", false},
	} {
		if err := checkProxy(tc.proxy, tc.no); (err == nil) != tc.ok {
			t.Errorf("checkProxy(%q, %q) = %v", tc.proxy, tc.no, err)
		}
	}
}

func writeTestKey(t *testing.T) (string, []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "private.key")
	if err := os.WriteFile(p, testkey.PEM(testkey.App()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, testkey.PEM(testkey.App())
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
	if uid, _ := ownerOf(path); uid != 0 {
		t.Errorf("%s is owned by uid %d, not root", path, uid)
	}
}

// A user without a keyring where systemd has no user-scoped credentials (systemd < 256):
// setup writes nothing and the error names the options.
func TestSetupNoKeyringNoUserCredentials(t *testing.T) {
	dir := t.TempDir()
	m := keystore.NewMemory()
	m.SetError(fmt.Errorf("%w: exec: \"dbus-launch\": executable file not found in $PATH", keystore.ErrUnavailable))
	origStore, origUC := storeFor, userCredsFor
	storeFor = func() keystore.Store { return m }
	userCredsFor = func(cfg string) *keystore.UserCredentials {
		return &keystore.UserCredentials{Dir: filepath.Join(filepath.Dir(cfg), "credentials"),
			Socket: filepath.Join(dir, "no-varlink-here")}
	}
	t.Cleanup(func() { storeFor, userCredsFor = origStore, origUC })
	keyFile, _ := writeTestKey(t)
	cfg := filepath.Join(dir, "cfg", "config.toml")
	code, out, errs := svcRun(t, "secret\n", "setup", "--config", cfg, "--client-id", "c", "--service-account", "s@example.com",
		"--scope", "bot", "--private-key-file", keyFile)
	if code != ExitNotConfigured {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"keyring unavailable", "needs systemd 256 or later", "--system-user", "--credentials-dir", "nothing was changed"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if _, err := os.Stat(filepath.Dir(cfg)); err == nil {
		t.Error("setup wrote something")
	}
}

// The per-user unit and the launchd agent carry the admin's proxy too.
func TestPerUserUnitProxy(t *testing.T) {
	spec := serviceSpec{executable: "/usr/local/bin/lwtoken-helperd", socket: systemdSocket, logLevel: "info",
		httpsProxy: "http://proxy.example:3128", noProxy: "localhost,.corp.example"}
	cfg := serviceConfig(platformSystemd, spec, "/home/u")
	unit := cfg.Option["SystemdScript"].(string)
	for _, want := range []string{"Environment=HTTPS_PROXY=http://proxy.example:3128\n", "Environment=NO_PROXY=localhost,.corp.example\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("user unit lacks %q", want)
		}
	}
	if u := serviceConfig(platformSystemd, serviceSpec{executable: "/x", socket: systemdSocket, logLevel: "info"}, "/home/u").Option["SystemdScript"].(string); strings.Contains(u, "PROXY") {
		t.Error("a proxy appeared without being given")
	}
	plist := cfg.Option["LaunchdConfig"].(string)
	if !strings.Contains(plist, "<key>HTTPS_PROXY</key>\n\t\t<string>http://proxy.example:3128</string>") {
		t.Errorf("plist lacks the proxy:\n%s", plist)
	}
	// doctor reads the system unit's proxy back the way install wrote it.
	dir := t.TempDir()
	tgt := systemTarget{user: "u", uid: 4242}
	p := filepath.Join(dir, "10-run.conf")
	os.WriteFile(p, tgt.renderRunDropIn(systemSpec{executable: "/x", logLevel: "info", httpsProxy: spec.httpsProxy, noProxy: spec.noProxy}), 0o644)
	if got := unitProxyEnv(p); got["HTTPS_PROXY"] != spec.httpsProxy || got["NO_PROXY"] != spec.noProxy || len(got) != 2 {
		t.Fatalf("unitProxyEnv: %v", got)
	}
}

// doctor takes the installed per-user unit's proxy, as the daemon it starts gets it.
func TestDoctorUsesUserUnitProxy(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("HTTPS_PROXY", "http://from-the-shell:1")
	t.Setenv("NO_PROXY", "")
	unit := serviceFile(platformSystemd, home)
	os.MkdirAll(filepath.Dir(unit), 0o700)
	cfg := serviceConfig(platformSystemd, serviceSpec{executable: "/x", socket: systemdSocket, logLevel: "info",
		httpsProxy: "http://unit-proxy.example:3128", noProxy: ".corp.example"}, home)
	os.WriteFile(unit, []byte(cfg.Option["SystemdScript"].(string)), 0o600)
	if got := applyUserUnitProxy(); got != "http://unit-proxy.example:3128" ||
		os.Getenv("HTTPS_PROXY") != "http://unit-proxy.example:3128" || os.Getenv("NO_PROXY") != ".corp.example" {
		t.Fatalf("applyUserUnitProxy: %q, env %q %q", got, os.Getenv("HTTPS_PROXY"), os.Getenv("NO_PROXY"))
	}
}

// install and uninstall --system-user where systemd does not run (this machine kind) and
// with flags that do not combine: one error line, a hint, a documented exit code.
func TestSystemInstallRefusals(t *testing.T) {
	_, units, _ := systemFixture(t)
	if systemdRunning() {
		t.Skip("systemd runs here: scripts/systemd-server-test.sh covers install")
	}
	code, out, errs := svcRun(t, "", "install", "--system-user", "nobody")
	if code != ExitNoServiceManager || !strings.Contains(errs, "systemd is not running as the init system") {
		t.Fatalf("no systemd: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = svcRun(t, "", "install", "--system-user", "nobody", "--socket", "/tmp/x.sock")
	if code != ExitUsage || !strings.Contains(errs, "do not combine with --system-user") {
		t.Fatalf("--socket: exit %d %s", code, errs)
	}
	code, _, errs = svcRun(t, "", "install", "--system-user", "nobody", "--https-proxy", "http://u:p@proxy:3128")
	if code != ExitUsage || !strings.Contains(errs, "readable by every local user") {
		t.Fatalf("proxy with a password: exit %d %s", code, errs)
	}
	code, out, errs = svcRun(t, "", "uninstall", "--system-user", "nobody")
	if code != 0 || !strings.Contains(out, "is not installed: nothing to remove") {
		t.Fatalf("uninstall, nothing installed: exit %d\n%s%s", code, out, errs)
	}
	if ents, _ := os.ReadDir(units); len(ents) != 0 {
		t.Fatalf("refused verbs wrote units: %v", ents)
	}
}
