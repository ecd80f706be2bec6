//go:build unix

package daemoncli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

const docSecret = "doctor-test-client-secret-value"

// docEndpoint is a stand-in for the token endpoint that answers HEAD with a Date header
// skew away from the real time.
func docEndpoint(t *testing.T, skew time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/oauth2/v2.0"
}

// docFixture is a doctor whose every link works: a config, a keyring with good secrets, a
// private socket directory, a daemon stand-in that answers, a running service, an endpoint
// with the right time. Tests break one link each.
type docFixture struct {
	d     *doctor
	env   map[string]string
	store *keystore.Memory
	dir   string
	// status is what the daemon stand-in answers; nil: no daemon.
	status *client.Status
}

func newDocFixture(t *testing.T) *docFixture {
	t.Helper()
	dir, err := os.MkdirTemp("", "lwdoc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &docFixture{env: map[string]string{}, store: keystore.NewMemory(), dir: dir}
	cfg := filepath.Join(dir, "config.toml")
	if err := config.Save(cfg, &config.Config{Profiles: map[string]*config.Profile{
		"default": {ClientID: "cid", ServiceAccount: "sa.serviceaccount@example.com", Scopes: []string{"bot"}, AuthURL: docEndpoint(t, 0)},
	}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f.store.Set(ctx, keystore.PrivateKeyKey("default"), testkey.PEM(testkey.App()))
	f.store.Set(ctx, keystore.ClientSecretKey("default"), []byte(docSecret))
	sockDir := filepath.Join(dir, "run")
	os.Mkdir(sockDir, 0o700)
	sock := filepath.Join(sockDir, "sock")
	f.status = &client.Status{Version: wire.Version, PID: 4242, Socket: sock, Keyring: "ok",
		Entries: []client.TokenStatus{{Profile: "default", Scope: "bot", State: "valid", Health: "ok"}}}
	f.serveStatus(t, sock)
	f.d = &doctor{
		getenv:     func(k string) string { return f.env[k] },
		uid:        os.Getuid(),
		cfgPath:    cfg,
		socket:     sock,
		secrets:    f.store,
		tokens:     f.store,
		httpClient: &http.Client{Timeout: 5 * time.Second},
		now:        time.Now,
		timeout:    2 * time.Second,
		service: func(context.Context) serviceInfo {
			return serviceInfo{platform: platformSystemd, file: filepath.Join(dir, "lwtoken-helperd.service"),
				state: svcState{installed: true, running: true, mainPID: 4242}}
		},
	}
	return f
}

// serveStatus answers /v1/status on sock with f.status, as the daemon would.
func (f *docFixture) serveStatus(t *testing.T, sock string) {
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.status == nil || r.URL.Path != wire.PathStatus {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(f.status)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// run runs the doctor and returns its exit code and its lines by check name (several
// lines of one check are joined with newlines).
func (f *docFixture) run(t *testing.T) (int, map[string]string, string) {
	t.Helper()
	var out bytes.Buffer
	code := f.d.run(context.Background(), &Env{Stdout: &out, Stderr: &out, Getenv: f.d.getenv})
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		fields := strings.Fields(l)
		if len(fields) < 2 || strings.HasPrefix(l, prog) {
			continue
		}
		if lines[fields[1]] != "" {
			lines[fields[1]] += "\n"
		}
		lines[fields[1]] += l
	}
	if strings.Contains(out.String(), docSecret) || strings.Contains(out.String(), "PRIVATE KEY") {
		t.Fatalf("doctor printed a secret:\n%s", out.String())
	}
	return code, lines, out.String()
}

// want checks that check name's line has level and holds each of the texts.
func want(t *testing.T, lines map[string]string, name, level string, texts ...string) {
	t.Helper()
	l := lines[name]
	if !strings.HasPrefix(l, level+" ") {
		t.Fatalf("%s: %q, want level %s", name, l, level)
	}
	for _, s := range texts {
		if !strings.Contains(l, s) {
			t.Fatalf("%s: %q does not say %q", name, l, s)
		}
	}
	if (level == "FAIL" || level == "warn") && !strings.Contains(l, "; fix: ") {
		t.Fatalf("%s: %q has no fix", name, l)
	}
}

func TestDoctorAllGood(t *testing.T) {
	f := newDocFixture(t)
	code, lines, out := f.run(t)
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, name := range []string{"config", "stores", "keyring", "secrets", "socket", "daemon", "service", "endpoint", "clock"} {
		want(t, lines, name, "ok")
	}
	want(t, lines, "stores", "ok", "secrets from memory; tokens cached in memory")
	if strings.Contains(lines["stores"], "running daemon") {
		t.Fatalf("stores: %q mentions the daemon, whose choice is the same", lines["stores"])
	}
	want(t, lines, "secrets", "ok", "profile default: private key (RSA-2048) and client secret present")
	want(t, lines, "daemon", "ok", "pid 4242 answers", "(1 token valid)")
	if !strings.Contains(out, "lwtoken-helperd doctor: 9 ok, 0 warnings, 0 failed") {
		t.Fatalf("summary:\n%s", out)
	}
}

// A daemon started elsewhere (another environment) may read its secrets from another
// source: doctor says which.
func TestDoctorStoresOfTheDaemon(t *testing.T) {
	f := newDocFixture(t)
	f.status.SecretSource, f.status.TokenCache = "files in /run/secrets/lineworks", "kernel keyring"
	_, lines, _ := f.run(t)
	want(t, lines, "stores", "ok", "secrets from memory; tokens cached in memory",
		"the running daemon: secrets from files in /run/secrets/lineworks, tokens cached in kernel keyring")
}

func TestDoctorConfig(t *testing.T) {
	f := newDocFixture(t)
	f.d.cfgPath = filepath.Join(f.dir, "missing.toml")
	code, lines, _ := f.run(t)
	if code != ExitError {
		t.Fatalf("exit %d", code)
	}
	want(t, lines, "config", "FAIL", "no config file at", "fix: run `lwtoken-helperd setup")
	want(t, lines, "secrets", "skip")
	want(t, lines, "endpoint", "skip")

	f = newDocFixture(t)
	os.WriteFile(f.d.cfgPath, []byte("[profiles.default]\nclient_id = \"x\"\ntypo = 1\n"), 0o600)
	_, lines, _ = f.run(t)
	want(t, lines, "config", "FAIL", "unknown key", "fix: fix or remove")

	f = newDocFixture(t)
	os.WriteFile(f.d.cfgPath, []byte("[profiles]\n"), 0o600)
	_, lines, _ = f.run(t)
	want(t, lines, "config", "FAIL", "has no profile")
}

func TestDoctorKeyring(t *testing.T) {
	f := newDocFixture(t)
	f.status = nil // no daemon that reaches the keyring either
	f.store.SetError(keystore.ErrLocked)
	code, lines, _ := f.run(t)
	if code != ExitError {
		t.Fatalf("exit %d", code)
	}
	want(t, lines, "keyring", "FAIL", "keyring locked", "fix: unlock your login keyring")

	// From cron: the keyring is out of reach here, but the daemon reaches it.
	f = newDocFixture(t)
	f.store.SetError(keystore.ErrUnavailable)
	_, lines, _ = f.run(t)
	want(t, lines, "keyring", "warn", "but the running daemon reaches it")

	// The daemon's own keyring trouble.
	f = newDocFixture(t)
	f.status.Keyring = "keystore: get: keyring locked"
	_, lines, _ = f.run(t)
	want(t, lines, "daemon", "warn", "its last keyring call failed: keystore: get: keyring locked")
}

func TestDoctorSecrets(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		breakIt func(m *keystore.Memory)
		text    string
	}{
		{"no key", func(m *keystore.Memory) { m.Delete(ctx, keystore.PrivateKeyKey("default")) }, "profile default: no private key in the keyring"},
		{"bad key", func(m *keystore.Memory) {
			m.Set(ctx, keystore.PrivateKeyKey("default"), []byte("-----BEGIN NOTHING-----\n"))
		}, "the stored private key is unusable"},
		{"no secret", func(m *keystore.Memory) { m.Delete(ctx, keystore.ClientSecretKey("default")) }, "profile default: no client secret in the keyring"},
		{"empty secret", func(m *keystore.Memory) { m.Set(ctx, keystore.ClientSecretKey("default"), []byte(" ")) }, "the stored client secret is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDocFixture(t)
			tc.breakIt(f.store)
			code, lines, _ := f.run(t)
			if code != ExitError {
				t.Fatalf("exit %d", code)
			}
			want(t, lines, "secrets", "FAIL", tc.text, "lwtoken-helperd setup --profile default")
		})
	}
}

func TestDoctorSocket(t *testing.T) {
	f := newDocFixture(t)
	// The daemon's rule, applied by the same function: group- or world-writable fails,
	// readable (0755, which the daemon accepts) passes.
	os.Chmod(filepath.Dir(f.d.socket), 0o775)
	_, lines, _ := f.run(t)
	want(t, lines, "socket", "FAIL", "is writable by group or others (mode 0775)", "fix: chmod 700 "+filepath.Dir(f.d.socket))
	os.Chmod(filepath.Dir(f.d.socket), 0o755)
	_, lines, _ = f.run(t)
	want(t, lines, "socket", "ok", "directory private and yours")

	f = newDocFixture(t)
	link := filepath.Join(f.dir, "link")
	os.Symlink(filepath.Dir(f.d.socket), link)
	f.d.socket = filepath.Join(link, "sock")
	_, lines, _ = f.run(t)
	want(t, lines, "socket", "FAIL", "is a symlink")

	f = newDocFixture(t)
	f.d.socket = "/" + strings.Repeat("x", 110)
	_, lines, _ = f.run(t)
	want(t, lines, "socket", "FAIL", "longer than a unix socket path may be")

	// An XDG_RUNTIME_DIR of another user (su without -l): clients look in the wrong place.
	f = newDocFixture(t)
	other := "/" // root's: another user's unless the test runs as root
	if os.Getuid() == 0 {
		other = filepath.Join(f.dir, "other")
		os.Mkdir(other, 0o700)
		os.Chown(other, 12345, 12345)
	}
	f.env["XDG_RUNTIME_DIR"] = other
	_, lines, _ = f.run(t)
	want(t, lines, "socket", "FAIL", "XDG_RUNTIME_DIR="+other+" belongs to uid", "su -l")

	// The installed service listens elsewhere than clients here look.
	f = newDocFixture(t)
	unit := filepath.Join(f.dir, "lwtoken-helperd.service")
	os.WriteFile(unit, []byte(`ExecStart=/usr/bin/lwtoken-helperd "run" "--socket" "/srv/elsewhere/sock" "--log-level" "info"`+"\n"), 0o644)
	_, lines, _ = f.run(t)
	want(t, lines, "socket", "FAIL", "the installed service listens on /srv/elsewhere/sock, but clients here look at "+f.d.socket,
		"LWTOKEN_HELPER_SOCKET=/srv/elsewhere/sock")

	// No directory yet: fine, the daemon creates it (the daemon check fails on its own).
	f = newDocFixture(t)
	f.d.socket = filepath.Join(f.dir, "new", "sock")
	_, lines, _ = f.run(t)
	want(t, lines, "socket", "ok", "the daemon creates it")
	want(t, lines, "daemon", "FAIL", "no daemon answers", "fix: start it")
}

func TestDoctorDaemonAndTokens(t *testing.T) {
	f := newDocFixture(t)
	f.status = nil
	f.d.service = func(context.Context) serviceInfo {
		return serviceInfo{platform: platformSystemd, file: "/x.service"}
	}
	code, lines, _ := f.run(t)
	if code != ExitError {
		t.Fatalf("exit %d", code)
	}
	want(t, lines, "daemon", "FAIL", "no daemon answers", "install and start the service")
	want(t, lines, "service", "FAIL", "not installed", "lwtoken-helperd install && lwtoken-helperd start")

	f = newDocFixture(t)
	f.status.Entries = []client.TokenStatus{
		{Profile: "default", Scope: "bot", State: "missing", Health: "rejected", LastError: "invalid_client: bad secret"},
		{Profile: "ops", Scope: "bot", State: "valid", Health: "retrying", ConsecutiveFailures: 3, LastError: "503"},
	}
	_, lines, _ = f.run(t)
	if !strings.Contains(lines["tokens"], "FAIL  tokens    profile default: line works rejects the credentials: invalid_client: bad secret") ||
		!strings.Contains(lines["tokens"], "warn  tokens    profile ops: token requests are failing (3 in a row): 503") {
		t.Fatalf("tokens:\n%s", lines["tokens"])
	}

	// The files mode has no setup step: the fix names the files instead.
	creds := filepath.Join(f.dir, "creds")
	os.Mkdir(creds, 0o700)
	dir, err := keystore.NewDir(creds)
	if err != nil {
		t.Fatal(err)
	}
	f.d.dir = dir
	_, lines, _ = f.run(t)
	if tl := lines["tokens"]; strings.Contains(tl, "setup") || !strings.Contains(tl, filepath.Join(creds, "default.private-key")) {
		t.Fatalf("tokens in the files mode:\n%s", tl)
	}
}

func TestDoctorService(t *testing.T) {
	for _, tc := range []struct {
		name   string
		info   serviceInfo
		daemon bool
		level  string
		text   string
	}{
		{"no manager, daemon by hand", serviceInfo{unavailable: &verbError{msg: "user services need systemd --user"}}, true, "warn", "no per-user service manager"},
		{"no manager, no daemon", serviceInfo{unavailable: &verbError{msg: "user services need systemd --user"}}, false, "FAIL", "lwtoken-helperd run"},
		{"stopped", serviceInfo{platform: platformSystemd, state: svcState{installed: true}}, false, "FAIL", "installed but not running"},
		{"failed", serviceInfo{platform: platformSystemd, state: svcState{installed: true, failed: true}}, false, "FAIL", "journalctl --user -u lwtoken-helperd"},
		{"not installed, daemon by hand", serviceInfo{platform: platformSystemd}, true, "warn", "started by hand"},
		{"status error", serviceInfo{platform: platformSystemd, err: fmt.Errorf("service status: boom")}, true, "FAIL", "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDocFixture(t)
			if !tc.daemon {
				f.status = nil
			}
			f.d.service = func(context.Context) serviceInfo { return tc.info }
			_, lines, _ := f.run(t)
			want(t, lines, "service", tc.level, tc.text)
		})
	}
}

func TestDoctorEndpointAndClock(t *testing.T) {
	f := newDocFixture(t)
	f.d.cfg = nil
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL + "/oauth2/v2.0"
	closed.Close()
	config.Save(f.d.cfgPath, &config.Config{Profiles: map[string]*config.Profile{
		"default": {ClientID: "cid", ServiceAccount: "sa.serviceaccount@example.com", Scopes: []string{"bot"}, AuthURL: url},
	}})
	code, lines, _ := f.run(t)
	if code != ExitError {
		t.Fatalf("exit %d", code)
	}
	want(t, lines, "endpoint", "FAIL", "cannot reach "+url, "HTTPS_PROXY")
	want(t, lines, "clock", "skip")

	for _, tc := range []struct {
		skew  time.Duration
		level string
		text  string
	}{
		{2 * time.Minute, "warn", "behind"}, // the endpoint is ahead: we are behind
		{-45 * time.Second, "warn", "ahead of"},
		{-20 * time.Minute, "FAIL", "will likely reject"},
		{0, "ok", "within 30s"},
	} {
		f := newDocFixture(t)
		config.Save(f.d.cfgPath, &config.Config{Profiles: map[string]*config.Profile{
			"default": {ClientID: "cid", ServiceAccount: "sa.serviceaccount@example.com", Scopes: []string{"bot"}, AuthURL: docEndpoint(t, tc.skew)},
		}})
		_, lines, _ := f.run(t)
		want(t, lines, "clock", tc.level, tc.text)
		if tc.level != "ok" && !strings.Contains(lines["clock"], "timedatectl set-ntp true") {
			t.Fatalf("clock fix: %s", lines["clock"])
		}
	}
}
