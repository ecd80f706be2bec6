package sdcreds

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCreds is a stand-in for io.systemd.Credentials on a real unix socket, speaking the
// wire format systemd does (NUL-terminated JSON). It "seals" by remembering: a blob is an
// index into its table, bound to the name. The real service is tested under systemd 257 in
// scripts/systemd-server-test.sh.
type fakeCreds struct {
	mu    sync.Mutex
	blobs map[string][2]string // blob -> name, data
	calls []string             // raw requests, for leak checks
	reply func(method string) string
}

func startFake(t *testing.T) (*fakeCreds, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "creds")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &fakeCreds{blobs: map[string][2]string{}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f, sock
}

func (f *fakeCreds) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	msg, err := r.ReadBytes(0)
	if err != nil {
		return
	}
	var req struct {
		Method     string `json:"method"`
		Parameters struct {
			Name, Data, Blob, Scope string
		} `json:"parameters"`
	}
	json.Unmarshal(msg[:len(msg)-1], &req)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, string(msg))
	if f.reply != nil {
		c.Write([]byte(f.reply(req.Method)))
		return
	}
	var out any
	p := req.Parameters
	switch {
	case p.Scope != "user":
		out = map[string]any{"error": "io.systemd.Credentials.BadScope"}
	case req.Method == "io.systemd.Credentials.Encrypt":
		blob := base64.StdEncoding.EncodeToString([]byte{byte(len(f.blobs))})
		f.blobs[blob] = [2]string{p.Name, p.Data}
		out = map[string]any{"parameters": map[string]string{"blob": blob}}
	case req.Method == "io.systemd.Credentials.Decrypt":
		e, ok := f.blobs[p.Blob]
		switch {
		case !ok:
			out = map[string]any{"error": "io.systemd.Credentials.BadFormat"}
		case e[0] != p.Name:
			out = map[string]any{"error": "io.systemd.Credentials.NameMismatch"}
		default:
			out = map[string]any{"parameters": map[string]string{"data": e[1]}}
		}
	default:
		out = map[string]any{"error": "org.varlink.service.MethodNotFound", "parameters": map[string]string{"method": req.Method}}
	}
	b, _ := json.Marshal(out)
	c.Write(append(b, 0))
}

func TestUserClientRoundTrip(t *testing.T) {
	ctx := context.Background()
	f, sock := startFake(t)
	c := UserClient{Socket: sock}
	secret := []byte("s3cret-client-value")
	blob, err := c.Encrypt(ctx, "default.client-secret", secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decrypt(ctx, "default.client-secret", append(blob, '\n'))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("decrypt: %q, %v", got, err)
	}
	_, err = c.Decrypt(ctx, "default.private-key", blob)
	if !errors.Is(err, ErrBadCredential) || !strings.Contains(err.Error(), "NameMismatch") {
		t.Fatalf("wrong name: %v", err)
	}
	_, err = c.Decrypt(ctx, "default.client-secret", []byte("AAAA"))
	if !errors.Is(err, ErrBadCredential) {
		t.Fatalf("foreign blob: %v", err)
	}
	if err := c.Available(ctx); err != nil {
		t.Fatal(err)
	}
	// The secret crossed the socket base64-encoded in "data", never as an argument elsewhere.
	if !strings.Contains(f.calls[0], `"scope":"user"`) || !strings.HasSuffix(f.calls[0], "\x00") {
		t.Fatalf("request: %q", f.calls[0])
	}
}

func TestUserClientErrors(t *testing.T) {
	ctx := context.Background()
	// No socket: systemd < 255, or not systemd.
	c := UserClient{Socket: filepath.Join(t.TempDir(), "absent")}
	if _, err := c.Encrypt(ctx, "n", []byte("x")); !errors.Is(err, ErrNoUserScope) {
		t.Fatalf("no socket: %v", err)
	}
	f, sock := startFake(t)
	c = UserClient{Socket: sock, Timeout: 500 * time.Millisecond}
	for _, tc := range []struct {
		reply string
		want  error
		text  string
	}{
		{"{\"error\":\"org.varlink.service.MethodNotFound\"}\x00", ErrNoUserScope, "MethodNotFound"},
		{"{\"error\":\"org.varlink.service.InvalidParameter\",\"parameters\":{\"parameter\":\"scope\"}}\x00", ErrNoUserScope, "scope"},
		{"{\"error\":\"org.varlink.service.PermissionDenied\"}\x00", ErrNoUserScope, "PermissionDenied"},
		{"not json\x00", nil, "not JSON"},
		{"{\"parameters\":{\"blob\":\"x\"}}", nil, "no NUL-terminated answer"}, // closed without NUL
		{"{}\x00", nil, "no parameters"},
	} {
		f.mu.Lock()
		f.reply = func(string) string { return tc.reply }
		f.mu.Unlock()
		_, err := c.Encrypt(ctx, "n", []byte("x"))
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("reply %q: %v", tc.reply, err)
		}
	}
	// A server that never answers: the call gives up at the timeout.
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "mute"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(3 * time.Second)
		}
	}()
	start := time.Now()
	_, err = UserClient{Socket: l.Addr().String(), Timeout: 200 * time.Millisecond}.Decrypt(ctx, "n", []byte("AAAA"))
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("mute server: %v after %s", err, time.Since(start))
	}
}
