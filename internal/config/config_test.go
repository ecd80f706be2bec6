package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `
default_profile = "work"
[profiles.work]
client_id = "cid"
service_account = "abc.serviceaccount@example.com"
domain_id = "12345"
scopes = ["bot", "user.read"]
auth_url = "http://127.0.0.1:8080/oauth2/v2.0"
`

func TestParseGood(t *testing.T) {
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Default() != "work" || c.Profiles["work"].ClientID != "cid" || len(c.Profiles["work"].Scopes) != 2 {
		t.Fatalf("parsed %+v", c)
	}
	if got := c.Profiles["work"].AuthURLOrDefault(); got != "http://127.0.0.1:8080/oauth2/v2.0" {
		t.Fatalf("auth url %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	base := "[profiles.p]\nclient_id = \"c\"\nservice_account = \"a@b\"\nscopes = [\"bot\"]\n"
	for _, tc := range []struct{ name, in, want string }{
		{"syntax", "[profiles.p\n", "parse"},
		{"unknown key", base + "client_secret = \"x\"\n", "unknown key profiles.p.client_secret"},
		{"no client id", "[profiles.p]\nservice_account = \"a@b\"\nscopes = [\"bot\"]\n", "client_id"},
		{"bad sa", "[profiles.p]\nclient_id = \"c\"\nservice_account = \"ab\"\nscopes = [\"bot\"]\n", "service_account"},
		{"no scopes", "[profiles.p]\nclient_id = \"c\"\nservice_account = \"a@b\"\n", "scopes is empty"},
		{"bad scope", "[profiles.p]\nclient_id = \"c\"\nservice_account = \"a@b\"\nscopes = [\"Bot Read\"]\n", "scope"},
		{"http remote", base + "auth_url = \"http://example.com/x\"\n", "plain http"},
		{"bad url", base + "auth_url = \"ftp://x\"\n", "not an http(s) URL"},
		{"bad name", "[profiles.\"a/b\"]\nclient_id = \"c\"\nservice_account = \"a@b\"\nscopes = [\"bot\"]\n", "profile name"},
		{"missing default", "default_profile = \"q\"\n" + base, "no [profiles.q]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
			if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Fatalf("error not lowercase: %q", msg)
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "config.toml")
	c, _ := Parse([]byte(good))
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v err %v", fi.Mode(), err)
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", di.Mode())
	}
	c2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Profiles["work"].Equal(c.Profiles["work"]) || c2.DefaultProfile != "work" {
		t.Fatalf("round trip: %+v", c2.Profiles["work"])
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
}

func TestLoadMissingAndHuge(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "nope.toml")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	big := filepath.Join(dir, "big.toml")
	os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileBytes+10)), 0o600)
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("huge: %v", err)
	}
}

func TestDefault(t *testing.T) {
	c := &Config{Profiles: map[string]*Profile{"x": {}}}
	if c.Default() != "x" {
		t.Fatal("single profile should be the default")
	}
	c.Profiles["default"] = &Profile{}
	if c.Default() != "default" {
		t.Fatal("profile named default should win")
	}
	c.Profiles = map[string]*Profile{"a": {}, "b": {}}
	if c.Default() != "" {
		t.Fatal("no default among many")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("[profiles.p]\nscopes=[1,2]\n"))
	f.Add([]byte("default_profile = 3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("parsed config does not validate: %v", err)
			}
		}
	})
}

// TestPlainHTTPOnlyToLoopback: plain http may only reach a literal loopback address or
// localhost; a DNS name that merely starts with "127." is refused (it resolves anywhere).
func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/oauth2/v2.0", true},
		{"http://127.1.2.3/x", true},
		{"http://127.255.255.254:1/", true},
		{"http://[::1]:8080/x", true},
		{"http://[::ffff:127.0.0.1]/x", true},
		{"http://localhost:8080/x", true},
		{"http://LocalHost/x", true},
		{"https://auth.worksmobile.com/oauth2/v2.0", true},
		{"https://127.attacker.example/x", true}, // https: the certificate decides
		{"http://127.attacker.example/x", false},
		{"http://127.0.0.1.attacker.example/x", false},
		{"http://127.0.0.1.nip.io/x", false},
		{"http://127/x", false},
		{"http://0177.0.0.1/x", false},
		{"http://2130706433/x", false},
		{"http://0x7f.0.0.1/x", false},
		{"http://localhost.attacker.example/x", false},
		{"http://localhost./x", false},
		{"http://[::1%25eth0]/x", false},
		{"http://[::2]/x", false},
		{"http://128.0.0.1/x", false},
		{"http://0.0.0.0/x", false},
		{"http://10.0.0.1/x", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			in := "[profiles.p]\nclient_id = \"c\"\nservice_account = \"a@b\"\nscopes = [\"bot\"]\nauth_url = \"" + tc.url + "\"\n"
			_, err := Parse([]byte(in))
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "plain http to a non-loopback host")) {
				t.Fatalf("err = %v, want the plain-http refusal", err)
			}
		})
	}
}
