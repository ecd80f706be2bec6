package daemon

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// logBuf is a log sink safe for the daemon's goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the log lines containing msg.
func (l *logBuf) lines(msg string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, msg) {
			out = append(out, line)
		}
	}
	return out
}

// restartLogged replaces h's daemon by one that logs at debug level (text, or JSON) into
// the returned buffer; tweak, if not nil, runs before Listen.
func restartLogged(h *harness, jsonLog bool, tweak func(*Daemon)) *logBuf {
	h.t.Helper()
	lb := &logBuf{}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	var hd slog.Handler = slog.NewTextHandler(lb, opts)
	if jsonLog {
		hd = slog.NewJSONHandler(lb, opts)
	}
	h.restart(launch{options: func(o *Options) { o.Logger = slog.New(hd) }, beforeListen: tweak})
	return lb
}

// rawReply sends req on a new connection and returns every byte the daemon wrote before
// closing it.
func rawReply(t *testing.T, sock, req string) []byte {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	b, _ := io.ReadAll(c)
	return b
}

func TestSocketDirectoryRefusals(t *testing.T) {
	base, err := os.MkdirTemp("", "lwsec")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	mkdir := func(name string, mode os.FileMode) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		return d
	}
	type tc struct {
		name string
		sock func() string
		want []string
	}
	cases := []tc{
		{"group-writable", func() string { return filepath.Join(mkdir("g", 0o770), "sock") },
			[]string{"writable by group or others", "mode 0770", "chmod 700"}},
		{"other-writable", func() string { return filepath.Join(mkdir("o", 0o703), "sock") },
			[]string{"writable by group or others", "mode 0703"}},
		{"sticky world-writable like /tmp", func() string { return filepath.Join(mkdir("tmp", 0o1777), "sock") },
			[]string{"writable by group or others"}},
		{"symlink to a private directory", func() string {
			l := filepath.Join(base, "link")
			os.Symlink(mkdir("target", 0o700), l)
			return filepath.Join(l, "sock")
		}, []string{"is a symlink", "refusing to follow it"}},
		{"dangling symlink", func() string {
			l := filepath.Join(base, "dangling")
			os.Symlink(filepath.Join(base, "nowhere"), l)
			return filepath.Join(l, "sock")
		}, []string{"is a symlink"}},
		{"not a directory", func() string {
			f := filepath.Join(base, "file")
			os.WriteFile(f, nil, 0o600)
			return filepath.Join(f, "sock")
		}, []string{"is not a directory"}},
		{"socket path is a symlink", func() string {
			d := mkdir("ok", 0o700)
			os.Symlink(filepath.Join(base, "elsewhere"), filepath.Join(d, "sock"))
			return filepath.Join(d, "sock")
		}, []string{"exists and is not a socket"}},
	}
	if os.Getuid() == 0 {
		cases = append(cases, tc{"owned by another user", func() string {
			d := mkdir("nobody", 0o700)
			if err := os.Chown(d, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(d, "sock")
		}, []string{"is owned by uid 65534, not by you (uid 0)", "refusing to use it"}})
	} else {
		t.Log("not root: the other-owner case runs in the e2e tests (setpriv)")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sock := c.sock()
			entries := func() []string {
				es, _ := os.ReadDir(filepath.Dir(sock))
				var n []string
				for _, e := range es {
					n = append(n, e.Name())
				}
				return n
			}
			before := entries()
			_, err := listenSocket(sock)
			d, nerr := New(Options{SocketPath: sock, ConfigPath: filepath.Join(base, "none.toml"), Secrets: keystore.NewMemory(), Tokens: keystore.NewMemory()})
			if nerr != nil {
				t.Fatal(nerr)
			}
			derr := d.Listen()
			for _, err := range []error{err, derr} {
				if err == nil {
					t.Fatalf("%s accepted", sock)
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("error %q lacks %q", err, w)
					}
				}
				if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %q is not one lowercase line", err)
				}
			}
			// (The one case whose directory is fine may hold the daemon's lock file.)
			if after := entries(); fmt.Sprint(after) != fmt.Sprint(before) && c.name != "socket path is a symlink" {
				t.Fatalf("a refused directory was written to: %v -> %v", before, after)
			}
		})
	}
}

// TestConcurrentStartsOnADeadSocket starts many daemons at once on a path holding a dead
// socket. Exactly one may win, and the socket on the path must be the winner's: without the
// lock, a late starter removes the winner's fresh socket as "stale" and binds its own.
func TestConcurrentStartsOnADeadSocket(t *testing.T) {
	base, err := os.MkdirTemp("", "lwsec")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	for round := range 20 {
		sock := filepath.Join(base, strconv.Itoa(round), "sock")
		os.Mkdir(filepath.Dir(sock), 0o700)
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close() // a dead socket, as a daemon killed with -9 leaves
		const n = 12
		ds := make([]*Daemon, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			d, err := New(Options{SocketPath: sock, ConfigPath: filepath.Join(base, "none.toml"), Secrets: keystore.NewMemory(), Tokens: keystore.NewMemory()})
			if err != nil {
				t.Fatal(err)
			}
			ds[i] = d
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = d.Listen()
			}()
		}
		close(start)
		wg.Wait()
		var winners []*Daemon
		for i, err := range errs {
			switch {
			case err == nil:
				winners = append(winners, ds[i])
			case !errors.Is(err, ErrAlreadyRunning):
				t.Errorf("round %d: a losing daemon failed with %v, want ErrAlreadyRunning", round, err)
			}
		}
		ok := len(winners) == 1 && sameFile(sock, winners[0].sockInfo)
		for _, w := range winners {
			w.Shutdown(context.Background())
		}
		if !ok {
			t.Fatalf("round %d: %d daemons listen at once (the socket on the path is the winner's: %v)", round, len(winners),
				len(winners) == 1 && ok)
		}
	}
}

// TestPeerOfAnotherUIDGetsNothing makes the daemon believe it runs as another uid, so that
// this process is "another user": the connection must be closed before a byte is written,
// although a valid token is cached, and the refusal logged. The e2e tests do the same with
// real processes of other uids.
func TestPeerOfAnotherUIDGetsNothing(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{}) // cached, and stored for the next daemon
	lb := restartLogged(h, false, func(d *Daemon) { d.uid = os.Getuid() + 4242 })
	if !strings.Contains(lb.String(), "token loaded from keyring") {
		t.Fatalf("the token is not cached in the restarted daemon:\n%s", lb)
	}
	for _, req := range []string{
		"GET /v1/token HTTP/1.1\r\nHost: lwtoken-helper\r\nConnection: close\r\n\r\n",
		"GET /v1/status HTTP/1.1\r\nHost: lwtoken-helper\r\nConnection: close\r\n\r\n",
		"POST /v1/revoke HTTP/1.1\r\nHost: lwtoken-helper\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	} {
		if b := rawReply(t, h.sock, req); len(b) != 0 {
			t.Fatalf("another uid got %d bytes: %q", len(b), b)
		}
	}
	if _, err := h.get(client.TokenRequest{}); err == nil || !errors.Is(err, client.ErrProtocol) {
		t.Fatalf("client of another uid: %v, want a protocol error (connection closed)", err)
	}
	// The first refusal is logged in full, the three after it counted in one summary line
	// (at the latest when the daemon stops).
	refusals := lb.lines("connection refused: peer is another user")
	if len(refusals) != 1 || !strings.Contains(refusals[0], "peer_uid="+strconv.Itoa(os.Getuid())) ||
		!strings.Contains(refusals[0], "peer_pid="+strconv.Itoa(os.Getpid())) {
		t.Fatalf("refusals not logged with the peer: %q", refusals)
	}
	h.stop()
	if s := lb.lines("connections refused: peer is another user"); len(s) != 1 || !strings.Contains(s[0], " count=3 ") {
		t.Fatalf("refusals after the first not counted: %q", s)
	}
	if strings.Contains(lb.String(), "token served") || strings.Contains(lb.String(), tok.AccessToken) {
		t.Fatalf("a token was served to another uid:\n%s", lb)
	}
	if h.fake.RevokeRequests() != 0 || !h.fake.Valid(tok.AccessToken) {
		t.Fatal("a refused peer's revoke request went through")
	}
}

// TestBrowserSignalsRefusedOnEveryRoute: whatever a browser adds (Origin, even empty or
// "null"; Referer; Sec-Fetch-*) and any Host but ours is refused on every route before the
// route runs; oversized bodies and headers are refused.
func TestBrowserSignalsRefusedOnEveryRoute(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	lb := restartLogged(h, false, nil)
	routes := []string{"GET /v1/token", "GET /v1/status", "POST /v1/reload", "POST /v1/revoke"}
	for _, route := range routes {
		for _, hdr := range []string{"Origin: https://evil.example", "Origin: null", "Origin:", "Referer: https://evil.example/",
			"Referer:", "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: no-cors", "Sec-Fetch-Dest: document", "sec-fetch-site: same-origin"} {
			req := route + " HTTP/1.1\r\nHost: lwtoken-helper\r\n" + hdr + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
			b := rawReply(t, h.sock, req)
			if !bytes.HasPrefix(b, []byte("HTTP/1.1 403 ")) || bytes.Contains(b, []byte(tok.AccessToken)) || !bytes.Contains(b, []byte(`"code":"forbidden"`)) {
				t.Fatalf("%s with %q: %q", route, hdr, b)
			}
		}
		for _, host := range []string{"evil.example", "127.0.0.1", "localhost:8080", "lwtoken-helper:80", "lwtoken-helper.evil.example", "LWTOKEN-HELPER-evil"} {
			req := route + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
			if b := rawReply(t, h.sock, req); !bytes.HasPrefix(b, []byte("HTTP/1.1 403 ")) || bytes.Contains(b, []byte(tok.AccessToken)) {
				t.Fatalf("%s with Host %q: %q", route, host, b)
			}
		}
		req := route + " HTTP/1.1\r\nHost: lwtoken-helper\r\nX-Big: " + strings.Repeat("a", 10<<10) + "\r\nConnection: close\r\n\r\n"
		if b := rawReply(t, h.sock, req); !bytes.HasPrefix(b, []byte("HTTP/1.1 431 ")) {
			t.Fatalf("%s with a 10 KiB header: %.40q", route, b)
		}
		req = route + " HTTP/1.1\r\nHost: lwtoken-helper\r\nContent-Length: 9000\r\nConnection: close\r\n\r\n" + strings.Repeat("a", 9000)
		if b := rawReply(t, h.sock, req); !bytes.HasPrefix(b, []byte("HTTP/1.1 413 ")) {
			t.Fatalf("%s with a 9000-byte body: %.40q", route, b)
		}
		// A chunked body has no length up front: refused (411 or 413), whether or not the
		// route reads bodies.
		req = route + " HTTP/1.1\r\nHost: lwtoken-helper\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
			"2328\r\n" + strings.Repeat("a", 9000) + "\r\n0\r\n\r\n"
		if b := rawReply(t, h.sock, req); !bytes.HasPrefix(b, []byte("HTTP/1.1 413 ")) && !bytes.HasPrefix(b, []byte("HTTP/1.1 411 ")) {
			t.Fatalf("%s with a 9000-byte chunked body: %.40q", route, b)
		}
	}
	if h.fake.TokenRequests() != 1 || h.fake.RevokeRequests() != 0 || !h.fake.Valid(tok.AccessToken) {
		t.Fatal("a refused request reached line works")
	}
	if len(lb.lines("request refused: browser headers")) == 0 || len(lb.lines("request refused: foreign host")) == 0 {
		t.Fatalf("refusals not logged:\n%s", lb)
	}
	if len(lb.lines("token served")) != 0 {
		t.Fatal("a refused request was served a token")
	}
	// What the real client sends passes, and "localhost" (curl --unix-socket) too.
	if b := rawReply(t, h.sock, "GET /v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); !bytes.HasPrefix(b, []byte("HTTP/1.1 200 ")) {
		t.Fatalf("Host: localhost: %.40q", b)
	}
}

// TestAbsoluteFormTargetRefused: a request line with an absolute URL as its target, which
// net/http would otherwise take its Host from, is refused on every route, whatever the Host
// header says; so is the asterisk form (issue 12, item 7).
func TestAbsoluteFormTargetRefused(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	lb := restartLogged(h, false, nil)
	for _, route := range []string{"GET /v1/token", "GET /v1/status", "GET /v1/profiles", "POST /v1/reload", "POST /v1/revoke"} {
		method, path, _ := strings.Cut(route, " ")
		for _, target := range []string{"http://lwtoken-helper" + path, "http://localhost" + path, "HTTP://LWTOKEN-HELPER" + path, "*"} {
			for _, host := range []string{"evil.example", "lwtoken-helper"} {
				req := method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
				b := rawReply(t, h.sock, req)
				if !bytes.HasPrefix(b, []byte("HTTP/1.1 400 ")) || bytes.Contains(b, []byte(tok.AccessToken)) {
					t.Fatalf("%s %s with Host %q: %q", method, target, host, b)
				}
			}
		}
	}
	if h.fake.TokenRequests() != 1 || h.fake.RevokeRequests() != 0 || !h.fake.Valid(tok.AccessToken) || len(lb.lines("token served")) != 0 {
		t.Fatal("an absolute-form request was served")
	}
	if len(lb.lines("request refused: not an origin-form target")) == 0 {
		t.Fatalf("refusals not logged:\n%s", lb)
	}
}

// TestAuditLinePerTokenServed: every token handed out is logged with the peer's pid, uid and
// executable and the token's fingerprint, never the token; in text and JSON logs.
func TestAuditLinePerTokenServed(t *testing.T) {
	for _, jsonLog := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", jsonLog), func(t *testing.T) {
			h := newHarness(t)
			lb := restartLogged(h, jsonLog, nil)
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			const n = 3
			var tok string
			for range n {
				tok = h.mustGet(client.TokenRequest{}).AccessToken
			}
			h.mustGet(client.TokenRequest{Scope: "bot"})
			lines := lb.lines("token served")
			if len(lines) != n+1 {
				t.Fatalf("%d audit lines for %d tokens served:\n%s", len(lines), n+1, lb)
			}
			fp := secret.New(tok).Fingerprint()
			for _, line := range lines[:n] {
				want := map[string]string{"peer_pid": strconv.Itoa(os.Getpid()), "peer_uid": strconv.Itoa(os.Getuid()),
					"peer_exe": exe, "fingerprint": fp, "profile": "default"}
				got := map[string]string{}
				if jsonLog {
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatal(err)
					}
					for k, v := range m {
						got[k] = fmt.Sprint(v)
					}
				} else {
					for _, f := range strings.Fields(line) {
						if k, v, ok := strings.Cut(f, "="); ok {
							got[k] = v
						}
					}
				}
				for k, v := range want {
					if got[k] != v {
						t.Fatalf("audit line has %s=%q, want %q: %s", k, got[k], v, line)
					}
				}
			}
			if strings.Contains(lb.String(), tok) {
				t.Fatal("the log holds the token")
			}
		})
	}
}

// TestSecretCarryingTypesNeverPrint formats every type that holds a secret, alone and
// nested where fmt can only use reflection, with every verb, through slog (text and JSON)
// and json.Marshal.
func TestSecretCarryingTypesNeverPrint(t *testing.T) {
	k := testkey.App()
	const access, refresh = "access-TOKEN-0123456789abcdef", "refresh-TOKEN-fedcba9876543210"
	cr := lwauth.Credentials{ClientID: clientID, ServiceAccount: sa, ClientSecret: secret.New(cs), PrivateKey: k}
	lt := lwauth.Token{AccessToken: secret.New(access), RefreshToken: secret.New(refresh), TokenType: "Bearer",
		Scope: []string{"bot"}, ExpiresIn: time.Hour, IssuedAt: time.Now(), Expiry: time.Now().Add(time.Hour)}
	ct := cachedToken{Access: secret.New(access), TokenType: "Bearer", Scope: "bot", ClientID: clientID}
	cc := credsCache{creds: cr}
	derr := (&Daemon{secrets: keystore.NewMemory()}).classify("default", &lwauth.Error{Op: "token request", StatusCode: 401, Code: "invalid_client"})
	values := []any{cr, &cr, lt, &lt, ct, &ct, cc, &cc, []any{cr, lt, ct}, map[string]any{"c": cr},
		struct{ c lwauth.Credentials }{cr}, struct{ t lwauth.Token }{lt}, struct{ t *cachedToken }{&ct}, derr}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pemBody := strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "\n", "")
	forbidden := []string{cs, access, refresh, k.D.String()[:24], fmt.Sprintf("%x", k.D.Bytes()[:12]),
		fmt.Sprintf("%x", k.Primes[0].Bytes()[:12]), k.Primes[0].String()[:24]}
	check := func(what, out string) {
		t.Helper()
		flat := strings.ReplaceAll(out, "\n", "")
		for _, f := range forbidden {
			if strings.Contains(strings.ToLower(flat), strings.ToLower(f)) {
				t.Fatalf("%s leaks %.12q...: %.300s", what, f, out)
			}
		}
		for i := 0; i+17 <= len(pemBody); i += 4 {
			if strings.Contains(flat, pemBody[i:i+17]) {
				t.Fatalf("%s leaks a piece of the key PEM", what)
			}
		}
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			check(fmt.Sprintf("%s of %T", verb, v), fmt.Sprintf(verb, v))
		}
		b, err := json.Marshal(v)
		if err == nil {
			check(fmt.Sprintf("json of %T", v), string(b))
		}
	}
	var lb bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&lb, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewJSONHandler(&lb, &slog.HandlerOptions{Level: slog.LevelDebug})} {
		l := slog.New(h)
		for i, v := range values {
			l.Debug("v", "i", i, "v", v)
		}
		l.Info("creds", "creds", cr, "token", lt, "cached", ct)
	}
	check("slog", lb.String())
	if !strings.Contains(lb.String(), "[redacted]") {
		t.Fatal("slog output lacks [redacted]")
	}
}

// ---- revocation ----

// failingRevoke puts a switch in front of the fake: while fail is set, revoke requests get
// a 503. It points the harness's profile at it.
func failingRevoke(h *harness) *atomic.Bool {
	h.t.Helper()
	var fail atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() && strings.HasSuffix(r.URL.Path, "/revoke") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.fake.ServeHTTP(w, r)
	}))
	h.t.Cleanup(ts.Close)
	cfg, err := config.Load(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	cfg.Profiles["default"].AuthURL = ts.URL + lwfake.AuthPath
	h.writeConfig(cfg)
	if err := h.d.Reload(); err != nil {
		h.t.Fatal(err)
	}
	return &fail
}

func storedKeys(h *harness, scopes ...string) []string {
	var found []string
	for _, s := range scopes {
		if _, err := h.store.Get(context.Background(), keystore.TokenKey("default", s)); err == nil {
			found = append(found, s)
		}
	}
	return found
}

func TestRevokeRevokesAndDropsEverywhere(t *testing.T) {
	h := newHarness(t)
	lb := restartLogged(h, false, nil)
	full := h.mustGet(client.TokenRequest{})
	bot := h.mustGet(client.TokenRequest{Scope: "bot"})
	r, err := h.c.Revoke(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Profile != "default" || r.Revoked != 2 || len(r.Fingerprints) != 2 {
		t.Fatalf("reply %+v", r)
	}
	if h.fake.Valid(full.AccessToken) || h.fake.Valid(bot.AccessToken) || h.fake.RevokeRequests() != 2 {
		t.Fatalf("after revoke: valid %v %v, %d revoke requests", h.fake.Valid(full.AccessToken), h.fake.Valid(bot.AccessToken), h.fake.RevokeRequests())
	}
	if left := storedKeys(h, "bot user.read", "bot"); len(left) != 0 {
		t.Fatalf("revoked tokens left in the keyring: %v", left)
	}
	// The next get mints anew, valid, and it is stored again.
	next := h.mustGet(client.TokenRequest{})
	if next.AccessToken == full.AccessToken || h.fake.TokenRequests() != 3 {
		t.Fatal("the next get did not mint a new token")
	}
	if len(storedKeys(h, "bot user.read")) != 1 {
		t.Fatal("the new token was not stored")
	}
	audit := lb.lines("tokens revoked")
	if len(audit) != 1 || !strings.Contains(audit[0], "peer_pid="+strconv.Itoa(os.Getpid())) || !strings.Contains(audit[0], "revoked=2") ||
		!strings.Contains(audit[0], secret.New(full.AccessToken).Fingerprint()) {
		t.Fatalf("revoke audit line: %q", audit)
	}
	if strings.Contains(lb.String(), full.AccessToken) || strings.Contains(lb.String(), bot.AccessToken) {
		t.Fatal("the log holds a token")
	}
	// Nothing cached for another profile's sake; a second revoke revokes the new token only.
	r, err = h.c.Revoke(context.Background(), "default")
	if err != nil || r.Revoked != 1 || h.fake.Valid(next.AccessToken) {
		t.Fatalf("second revoke: %+v %v", r, err)
	}
	r, err = h.c.Revoke(context.Background(), "")
	if err != nil || r.Revoked != 0 || h.fake.RevokeRequests() != 3 {
		t.Fatalf("revoke with nothing cached: %+v %v, %d requests", r, err, h.fake.RevokeRequests())
	}
	if _, err := h.c.Revoke(context.Background(), "nope"); !errors.Is(err, client.ErrNotConfigured) {
		t.Fatalf("revoke of an unknown profile: %v", err)
	}
}

// TestRevokeFindsStoredTokensOfAnEarlierDaemon: tokens of scope subsets minted before a
// restart are not in memory; the token index finds them in the keyring.
func TestRevokeFindsStoredTokensOfAnEarlierDaemon(t *testing.T) {
	h := newHarness(t)
	full := h.mustGet(client.TokenRequest{})
	bot := h.mustGet(client.TokenRequest{Scope: "bot"})
	h.stop()
	h.start()
	r, err := h.c.Revoke(context.Background(), "")
	if err != nil || r.Revoked != 2 {
		t.Fatalf("revoke after a restart: %+v %v", r, err)
	}
	if h.fake.Valid(full.AccessToken) || h.fake.Valid(bot.AccessToken) {
		t.Fatal("a stored token survived revocation")
	}
	if left := storedKeys(h, "bot user.read", "bot"); len(left) != 0 {
		t.Fatalf("left in the keyring: %v", left)
	}
	h.stop()
	h.start()
	if got := h.mustGet(client.TokenRequest{Scope: "bot"}); got.AccessToken == bot.AccessToken {
		t.Fatal("a revoked token came back after a restart")
	}
}

// TestRevokeFailureKeepsTheToken: when LINE WORKS does not revoke, the token stays cached
// and served (it is still valid there) and the client learns why; a retry succeeds.
func TestRevokeFailureKeepsTheToken(t *testing.T) {
	h := newHarness(t)
	fail := failingRevoke(h)
	tok := h.mustGet(client.TokenRequest{})
	fail.Store(true)
	r, err := h.c.Revoke(context.Background(), "")
	var ce *client.Error
	if !errors.Is(err, client.ErrUnavailable) || !errors.As(err, &ce) || !strings.Contains(err.Error(), "revoked 0 of 1 tokens") ||
		!strings.Contains(ce.Hint, "revoke` again") || r != nil {
		t.Fatalf("revoke during an outage: %+v %v", r, err)
	}
	if got := h.mustGet(client.TokenRequest{}); got.AccessToken != tok.AccessToken {
		t.Fatal("the token not revoked was dropped")
	}
	if len(storedKeys(h, "bot user.read")) != 1 {
		t.Fatal("the token not revoked was deleted from the keyring")
	}
	fail.Store(false)
	if r, err := h.c.Revoke(context.Background(), ""); err != nil || r.Revoked != 1 || h.fake.Valid(tok.AccessToken) {
		t.Fatalf("retry: %+v %v", r, err)
	}
}

// TestRevokeWaitsForAMintInFlight: a token being minted when revoke arrives is revoked too.
func TestRevokeWaitsForAMintInFlight(t *testing.T) {
	h := newHarness(t)
	h.fake.SetDelay(300 * time.Millisecond)
	type reply struct {
		tok string
		err error
	}
	got := make(chan reply, 1)
	go func() {
		tok, err := h.get(client.TokenRequest{})
		if err != nil {
			got <- reply{err: err}
			return
		}
		got <- reply{tok: tok.AccessToken}
	}()
	waitFor(t, "the mint to be in flight", func() bool { return h.fake.TokenRequests() == 1 })
	r, err := h.c.Revoke(context.Background(), "")
	if err != nil || r.Revoked != 1 {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	g := <-got
	if g.err != nil {
		t.Fatalf("the get racing revoke failed: %v", g.err)
	}
	if h.fake.Valid(g.tok) {
		t.Fatalf("the token minted during revoke (%s) is still valid; revoked %v; %d token requests",
			secret.New(g.tok).Fingerprint(), r.Fingerprints, h.fake.TokenRequests())
	}
}

// TestRevokedTokensAreNeverWrittenBack: a renewal or a retried keyring write racing revoke
// must not bring a revoked token back, nor may a mint finishing after `setup --delete`
// removed the profile store it.
func TestRevokedTokensAreNeverWrittenBack(t *testing.T) {
	h := newHarness(t)
	tok := h.mustGet(client.TokenRequest{})
	ctx := context.Background()
	k := keystore.TokenKey("default", "bot user.read")
	raw, err := h.store.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Revoke(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := h.d.store.Set(ctx, k, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Get(ctx, k); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a revoked token was written back: %v", err)
	}
	h.store.Set(ctx, k, raw) // behind the daemon's back
	if _, err := h.d.store.Get(ctx, k); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("the daemon reads a revoked token: %v", err)
	}
	if got := h.mustGet(client.TokenRequest{}); got.AccessToken == tok.AccessToken {
		t.Fatal("a revoked token was served")
	}
	// A profile removed from the config: late writes of its tokens are dropped.
	h.store.Delete(ctx, k)
	fresh, _ := h.store.Get(ctx, k)
	h.writeConfig(&config.Config{Profiles: map[string]*config.Profile{
		"other": {ClientID: clientID, ServiceAccount: sa, Scopes: []string{"bot"}, AuthURL: h.fake.AuthURL}}})
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	ct := &cachedToken{Access: secret.New("late"), TokenType: "Bearer", Scope: "bot user.read", IssuedAt: time.Now(),
		Expiry: time.Now().Add(time.Hour), ClientID: clientID, AuthURL: h.fake.AuthURL}
	if err := h.d.store.Set(ctx, k, ct.marshal()); err != nil {
		t.Fatal(err)
	}
	if got, err := h.store.Get(ctx, k); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a token of a removed profile was stored: %q %v (before: %q)", got, err, fresh)
	}
}

// TestRevokeStoredAndDeleteProfile are what `setup --delete` uses when no daemon runs.
func TestRevokeStoredAndDeleteProfile(t *testing.T) {
	h := newHarness(t)
	full := h.mustGet(client.TokenRequest{})
	bot := h.mustGet(client.TokenRequest{Scope: "bot"})
	h.stop()
	ctx := context.Background()
	if n, err := RevokeStored(ctx, h.store, h.cfg, "nope", nil); err == nil || n != 0 {
		t.Fatalf("RevokeStored of a profile not in the config: %d %v", n, err)
	}
	n, err := RevokeStored(ctx, h.store, h.cfg, "default", nil)
	if err != nil || n != 2 || h.fake.Valid(full.AccessToken) || h.fake.Valid(bot.AccessToken) {
		t.Fatalf("RevokeStored: %d %v", n, err)
	}
	if left := storedKeys(h, "bot user.read", "bot"); len(left) != 0 {
		t.Fatalf("left in the keyring: %v", left)
	}
	scopes := []string{"bot", "user.read"}
	n, err = DeleteProfile(ctx, h.store, "default", scopes)
	if err != nil || n != 3 { // key, secret, index
		t.Fatalf("DeleteProfile: %d %v", n, err)
	}
	for _, k := range []string{keystore.PrivateKeyKey("default"), keystore.ClientSecretKey("default"), tokenIndexKey("default")} {
		if _, err := h.store.Get(ctx, k); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("%s survived: %v", k, err)
		}
	}
	if n, err := DeleteProfile(ctx, h.store, "default", nil); err != nil || n != 0 {
		t.Fatalf("second DeleteProfile: %d %v", n, err)
	}
	// A keyring that fails to delete a token: the error comes back and the index stays, to
	// find the token at the next attempt.
	h.store.Set(ctx, tokenIndexKey("default"), []byte(`{"v":1,"scopes":["bot"]}`))
	h.store.Set(ctx, keystore.TokenKey("default", "bot"), []byte("x"))
	if _, err := DeleteProfile(ctx, failTokenDeletes{h.store}, "default", scopes); !errors.Is(err, keystore.ErrLocked) {
		t.Fatalf("DeleteProfile when a token cannot be deleted: %v", err)
	}
	if _, err := h.store.Get(ctx, tokenIndexKey("default")); err != nil {
		t.Fatal("the index went although deleting a token failed")
	}
	if n, err := DeleteProfile(ctx, h.store, "default", nil); err != nil || n != 2 {
		t.Fatalf("the next attempt, from the index alone: %d %v", n, err)
	}
}

// failTokenDeletes fails every Delete of a token item.
type failTokenDeletes struct{ keystore.Store }

func (f failTokenDeletes) Delete(ctx context.Context, key string) error {
	if _, _, ok := parseTokenKey(key); ok {
		return fmt.Errorf("delete %s: %w", key, keystore.ErrLocked)
	}
	return f.Store.Delete(ctx, key)
}

func TestParseTokenKey(t *testing.T) {
	for _, c := range []struct {
		key, profile, scope string
		ok                  bool
	}{
		{keystore.TokenKey("default", "bot user.read"), "default", "bot user.read", true},
		{keystore.TokenKey("a.b-c", "bot"), "a.b-c", "bot", true},
		{keystore.PrivateKeyKey("default"), "", "", false},
		{keystore.ClientSecretKey("default"), "", "", false},
		{tokenIndexKey("default"), "", "", false},
		{"profile/../token/bot", "", "", false},
		{"other/default/token/bot", "", "", false},
	} {
		p, s, ok := parseTokenKey(c.key)
		if p != c.profile || s != c.scope || ok != c.ok {
			t.Errorf("parseTokenKey(%q) = %q %q %v", c.key, p, s, ok)
		}
	}
}
