//go:build unix

package daemoncli

import (
	"io"
	"testing"

	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// The credentials directory comes from --credentials-dir, else its environment twin, else
// systemd's $CREDENTIALS_DIRECTORY; with none, the desktop keyring is both stores.
func TestCredentialsDirPrecedence(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"none", nil, nil, ""},
		{"systemd", map[string]string{EnvSystemdCreds: "/run/credentials/x.service"}, nil, "/run/credentials/x.service"},
		{"twin over systemd", map[string]string{EnvSystemdCreds: "/run/credentials/x.service", EnvCredentialsDir: "/a"}, nil, "/a"},
		{"flag over both", map[string]string{EnvSystemdCreds: "/s", EnvCredentialsDir: "/a"}, []string{"--credentials-dir", "/f"}, "/f"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return c.env[k] }}
			fs := newFlags(env, "run", "run", "")
			var o storeOptions
			bindStoreFlags(env, fs, &o)
			if code, ok := parse(env, fs, c.args); !ok {
				t.Fatalf("parse: exit %d", code)
			}
			if o.credentialsDir != c.want {
				t.Fatalf("credentials dir %q, want %q", o.credentialsDir, c.want)
			}
		})
	}
	st, err := chooseStores(&Env{Getenv: func(string) string { return "" }}, storeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.secrets.(*keystore.Keyring); !ok || st.dir != nil {
		t.Fatalf("without a directory: secrets %T", st.secrets)
	}
	if _, ok := st.tokens.(*keystore.Keyring); !ok {
		t.Fatalf("without a directory: tokens %T", st.tokens)
	}
	dir := t.TempDir()
	st, err = chooseStores(&Env{Getenv: func(string) string { return "" }}, storeOptions{credentialsDir: dir, socket: "/x/sock"})
	if err != nil {
		t.Fatal(err)
	}
	if st.dir == nil || st.dir.Path() != dir {
		t.Fatalf("files mode: dir %v", st.dir)
	}
	if _, ok := st.tokens.(*keystore.KernelKeyring); !ok {
		t.Fatalf("files mode: tokens %T, want the kernel keyring", st.tokens)
	}
}
