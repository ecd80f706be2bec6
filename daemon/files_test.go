//go:build unix

package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testsecretdir"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// filesEnv is a daemon reading its secrets from a credentials directory, as in a pod.
type filesEnv struct {
	t    *testing.T
	fake *lwfake.Server
	dir  string
	kw   *testsecretdir.Kubelet
	d    *Daemon
	c    *client.Client
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startFiles starts a daemon on a kubelet-projected Secret volume holding files, with the
// profiles "default" and "other" configured (client id clientID for both).
func startFiles(t *testing.T, app lwfake.App, dir string, files map[string][]byte) *filesEnv {
	t.Helper()
	e := &filesEnv{t: t, fake: lwfake.NewServer(t, app), dir: dir, logs: &lockedBuffer{}}
	if files != nil {
		e.kw = &testsecretdir.Kubelet{Dir: dir}
		if err := e.kw.Write(files); err != nil {
			t.Fatal(err)
		}
	}
	base := t.TempDir()
	cfg := filepath.Join(base, "config.toml")
	p := func() *config.Profile {
		return &config.Profile{ClientID: clientID, ServiceAccount: sa, Scopes: []string{"bot"}, AuthURL: e.fake.AuthURL}
	}
	if err := config.Save(cfg, &config.Config{DefaultProfile: "default", Profiles: map[string]*config.Profile{"default": p(), "other": p()}}); err != nil {
		t.Fatal(err)
	}
	src, err := keystore.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(base, "s", "sock")
	e.d, err = New(Options{SocketPath: sock, ConfigPath: cfg, Secrets: src,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.d.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.d.Serve() }()
	t.Cleanup(func() {
		e.d.Shutdown(context.Background())
		<-served
		if strings.Contains(e.logs.String(), "PRIVATE KEY") || strings.Contains(e.logs.String(), "secret-") {
			t.Errorf("the log holds a secret:\n%s", e.logs.String())
		}
	})
	e.c = &client.Client{SocketPath: sock, Timeout: 20 * time.Second}
	waitFor(t, "the watch of the credentials directory", func() bool {
		return strings.Contains(e.logs.String(), "watching the credentials directory")
	})
	return e
}

func (e *filesEnv) token(profile string) (*client.Token, error) {
	return e.c.Token(context.Background(), client.TokenRequest{Profile: profile})
}

func (e *filesEnv) fingerprint() string {
	st, err := e.c.Status(context.Background())
	if err != nil || len(st.Entries) == 0 {
		return ""
	}
	for _, en := range st.Entries {
		if en.Profile == "default" && en.State == "valid" && en.Health == "ok" {
			return en.Fingerprint
		}
	}
	return ""
}

func fp(tok string) string { return secret.New(tok).Fingerprint() }

// Both the key and the secret are rotated: registered at LINE WORKS (the old ones then
// rejected) and written by kubelet into the running pod's Secret volume. The daemon mints
// with the new ones without a restart, keeps serving the old token until then, and the time
// from the ..data swap to the new token is measured.
func TestFilesRotationKubelet(t *testing.T) {
	oldKey, newK := testkey.App(), testkey.Other()
	app := lwfake.App{ClientID: clientID, ClientSecret: "secret-old", ServiceAccount: sa, PublicKey: &oldKey.PublicKey, Scopes: []string{"bot"}}
	e := startFiles(t, app, filepath.Join(t.TempDir(), "lineworks"),
		map[string][]byte{"default.private-key": testkey.PEM(oldKey), "default.client-secret": []byte("secret-old\n")})
	t1, err := e.token("")
	if err != nil {
		t.Fatal(err)
	}
	app.ClientSecret, app.PublicKey = "secret-new", &newK.PublicKey
	if err := e.fake.AddApp(app); err != nil { // the old key and secret are now rejected
		t.Fatal(err)
	}
	e.fake.SetDelay(300 * time.Millisecond)

	var swapped time.Time
	e.kw.Between = func(step string) {
		if step == "..data swapped" {
			swapped = time.Now()
		}
	}
	if err := e.kw.Write(map[string][]byte{"default.private-key": testkey.PEM(newK), "default.client-secret": []byte("secret-new\n")}); err != nil {
		t.Fatal(err)
	}
	// While the new token is being minted, the old one is served.
	waitFor(t, "the mint with the new secrets", func() bool { return e.fake.TokenRequests() == 2 })
	if tok, err := e.token(""); err != nil || tok.AccessToken != t1.AccessToken {
		t.Fatalf("during the mint: %v, a token other than the old one: %v", err, tok != nil && tok.AccessToken != t1.AccessToken)
	}
	var picked time.Duration
	waitFor(t, "a token minted with the new secrets", func() bool {
		f := e.fingerprint()
		if f != "" && f != fp(t1.AccessToken) {
			picked = time.Since(swapped)
			return true
		}
		return false
	})
	t.Logf("rotation pickup (kubelet ..data swap to the new token cached, the fake answering in 300ms): %v", picked.Round(time.Millisecond))
	t2, err := e.token("")
	if err != nil || t2.AccessToken == t1.AccessToken || !e.fake.Valid(t2.AccessToken) {
		t.Fatalf("after the rotation: %v", err)
	}
	if n := e.fake.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2 (one mint per rotation)", n)
	}
}

// Files that still hold rejected credentials put the profile in the slow retry of a
// rejection; the corrected files, renamed over the old ones as a Vault or OpenBao Agent
// does, end that backoff at once.
func TestFilesRejectedBackoffResetByRenameOver(t *testing.T) {
	oldKey, newK := testkey.App(), testkey.Other()
	app := lwfake.App{ClientID: clientID, ClientSecret: "secret-new", ServiceAccount: sa, PublicKey: &newK.PublicKey, Scopes: []string{"bot"}}
	dir := filepath.Join(t.TempDir(), "rendered")
	os.Mkdir(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "default.private-key"), testkey.PEM(oldKey), 0o400)
	os.WriteFile(filepath.Join(dir, "default.client-secret"), []byte("secret-old"), 0o400)
	e := startFiles(t, app, dir, nil)
	_, err := e.token("")
	if !errors.Is(err, client.ErrRejected) {
		t.Fatalf("old credentials: %v", err)
	}
	var ce *client.Error
	if !errors.As(err, &ce) || strings.Contains(ce.Hint, "setup") || !strings.Contains(ce.Hint, filepath.Join(dir, "default.private-key")) {
		t.Fatalf("the hint of a rejection in the files mode, which has no setup step: %#v", err)
	}
	if _, err := e.token(""); err == nil || !strings.Contains(err.Error(), "next attempt in 15m") {
		t.Fatalf("the backoff of a rejection: %v", err)
	}
	start := time.Now()
	if err := testsecretdir.RenameOver(dir, "default.client-secret", []byte("secret-new\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := testsecretdir.RenameOver(dir, "default.private-key", testkey.PEM(newK), 0o400); err != nil {
		t.Fatal(err)
	}
	var picked time.Duration
	waitFor(t, "a token minted with the renamed-over files", func() bool {
		if e.fingerprint() != "" {
			picked = time.Since(start)
			return true
		}
		return false
	})
	t.Logf("rotation pickup (rename over both files to the new token cached): %v", picked.Round(time.Millisecond))
	if _, err := e.token(""); err != nil {
		t.Fatal(err)
	}
}

// A profile whose files are missing, malformed or insecure fails alone, with an error that
// names the file (exit 4 at the client); the other profile keeps working, and the daemon
// stays up. A fixed file is picked up without a restart.
func TestFilesPerProfileErrors(t *testing.T) {
	k := testkey.App()
	app := lwfake.App{ClientID: clientID, ClientSecret: "secret-1", ServiceAccount: sa, PublicKey: &k.PublicKey, Scopes: []string{"bot"}}
	dir := filepath.Join(t.TempDir(), "lineworks")
	good := map[string][]byte{"default.private-key": testkey.PEM(k), "default.client-secret": []byte("secret-1")}
	e := startFiles(t, app, dir, good)
	for _, c := range []struct {
		name  string
		files map[string][]byte
		modes map[string]os.FileMode
		want  string
	}{
		{"missing", nil, nil, "other.private-key: no such file"},
		{"missing secret", map[string][]byte{"other.private-key": testkey.PEM(k)}, nil, "other.client-secret: no such file"},
		{"malformed key", map[string][]byte{"other.private-key": []byte("-----BEGIN PRIVATE KEY-----\nnot a key\n"), "other.client-secret": []byte("x")}, nil,
			"other.private-key: not a usable private key"},
		{"world-writable", map[string][]byte{"other.private-key": testkey.PEM(k), "other.client-secret": []byte("x")}, map[string]os.FileMode{"other.private-key": 0o666},
			"which is writable by other users (mode 0666)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string][]byte{}
			for n, b := range good {
				files[n] = b
			}
			for n, b := range c.files {
				files[n] = b
			}
			e.kw.Modes = c.modes
			if err := e.kw.Write(files); err != nil {
				t.Fatal(err)
			}
			var err error
			waitFor(t, "the error", func() bool {
				_, err = e.token("other")
				return err != nil && strings.Contains(err.Error(), c.want)
			})
			if !errors.Is(err, client.ErrNotConfigured) || !strings.Contains(err.Error(), filepath.Join(dir, "other.")) {
				t.Fatalf("profile other: %v, want not configured naming the file", err)
			}
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Hint == "" {
				t.Fatalf("no hint: %#v", err)
			}
			if _, err := e.token("default"); err != nil {
				t.Fatalf("profile default stopped working: %v", err)
			}
		})
	}
	// Fixed: picked up without a restart, no backoff to wait out.
	e.kw.Modes = nil
	files := map[string][]byte{"other.private-key": testkey.PEM(k), "other.client-secret": []byte("secret-1")}
	for n, b := range good {
		files[n] = b
	}
	if err := e.kw.Write(files); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "profile other, fixed", func() bool { _, err := e.token("other"); return err == nil })
}

// The files mode has no setup step: the hints for a profile or scope that is not configured
// name the config file and the secret files instead.
func TestFilesHintsNameTheConfigAndFiles(t *testing.T) {
	k := testkey.App()
	app := lwfake.App{ClientID: clientID, ClientSecret: "secret-1", ServiceAccount: sa, PublicKey: &k.PublicKey, Scopes: []string{"bot", "user.read"}}
	dir := filepath.Join(t.TempDir(), "lineworks")
	e := startFiles(t, app, dir, map[string][]byte{"default.private-key": testkey.PEM(k), "default.client-secret": []byte("secret-1")})
	cfg := e.d.opts.ConfigPath
	for _, c := range []struct {
		req  client.TokenRequest
		want []string
	}{
		{client.TokenRequest{Profile: "nope"}, []string{"add profile nope to " + cfg, filepath.Join(dir, "nope.private-key"), filepath.Join(dir, "nope.client-secret")}},
		{client.TokenRequest{Scope: "user.read"}, []string{"add it to the scopes of profile default in " + cfg}},
	} {
		_, err := e.c.Token(context.Background(), c.req)
		var ce *client.Error
		if !errors.As(err, &ce) || strings.Contains(ce.Hint, "setup") {
			t.Fatalf("%+v: %#v, want a hint without setup", c.req, err)
		}
		for _, w := range c.want {
			if !strings.Contains(ce.Hint, w) {
				t.Errorf("%+v: hint %q lacks %q", c.req, ce.Hint, w)
			}
		}
	}
}
