package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSaveLoadRoundTrip: any config Parse accepts is saved (by setup) and loaded back (by
// the daemon, on SIGHUP) unchanged, so a reload never sees a different profile than the
// one written (which would drop its cached token) or fails on a file setup wrote.
func FuzzSaveLoadRoundTrip(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("[profiles.\"a.b\"]\nclient_id = \"x\\u00e9\"\nservice_account = \"a@b\"\nscopes = [\"bot\", \"bot\"]\n"))
	f.Add([]byte("default_profile = \"p\"\n[profiles.p]\nclient_id = \"c\"\nservice_account = \"s@x\"\nscopes = [\"user.read\"]\nauth_url = \"https://[::1]:8/x?y#z\"\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		path := filepath.Join(dir, "config.toml")
		if err := Save(path, c); err != nil {
			t.Fatalf("a parsed config does not save: %v", err)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatalf("a saved config does not load: %v", err)
		}
		if back.DefaultProfile != c.DefaultProfile || len(back.Profiles) != len(c.Profiles) || back.Default() != c.Default() {
			t.Fatalf("round trip changed the config: %+v -> %+v", c, back)
		}
		for name, p := range c.Profiles {
			q := back.Profiles[name]
			if !p.Equal(q) || p.DomainID != q.DomainID || strings.Join(p.Scopes, " ") != strings.Join(q.Scopes, " ") {
				t.Fatalf("profile %q changed: %+v -> %+v", name, p, q)
			}
		}
	})
}
