package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
)

const (
	clientID       = "client-abc"
	clientSecret   = "s3cr3t-CLIENT-value-42"
	serviceAccount = "abcde.serviceaccount@example.com"
)

// TestMain lets the test binary act as lwfake for TestSignal.
func TestMain(m *testing.M) {
	if os.Getenv("LWFAKE_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// files writes the secret and key files and returns the flags naming them.
func files(t *testing.T, keyPEM []byte) []string {
	t.Helper()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(secretFile, []byte(clientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"-client-id", clientID, "-client-secret-file", secretFile, "-service-account", serviceAccount,
		"-public-key-file", keyFile, "-scopes", "bot,user.read", "-url-file", filepath.Join(dir, "url"),
	}
}

func publicPEM(t *testing.T) []byte {
	der, err := x509.MarshalPKIXPublicKey(&testkey.App().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func privatePEM(*testing.T) []byte { return testkey.PEM(testkey.App()) }

// waitURL waits for the URL file and returns the URL.
func waitURL(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no url file")
	return ""
}

func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name string
		pem  func(*testing.T) []byte
	}{{"public key", publicPEM}, {"private key", privatePEM}} {
		t.Run(tt.name, func(t *testing.T) {
			args := files(t, tt.pem(t))
			urlFile := args[len(args)-1]
			var stderr syncBuffer
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan int)
			go func() { done <- run(ctx, args, &stderr) }()
			base := waitURL(t, urlFile)
			if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/oauth2/v2\.0$`).MatchString(base) {
				t.Fatalf("url %q", base)
			}

			c := &lwauth.Client{AuthURL: base}
			cr := lwauth.Credentials{ClientID: clientID, ServiceAccount: serviceAccount,
				ClientSecret: secret.New(clientSecret), PrivateKey: testkey.App()}
			tok, err := c.Token(t.Context(), cr, []string{"bot"})
			if err != nil {
				t.Fatal(err)
			}
			bad := cr
			bad.ClientSecret = secret.New("wrong")
			if _, err := c.Token(t.Context(), bad, []string{"bot"}); err == nil {
				t.Fatal("wrong secret accepted")
			}
			resource := strings.TrimSuffix(base, "/oauth2/v2.0") + "/v1.0/users/me"
			req, _ := http.NewRequest("GET", resource, nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken.Reveal())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("resource: %d", resp.StatusCode)
			}

			cancel()
			if code := <-done; code != exitOK {
				t.Errorf("exit code %d", code)
			}
			out := stderr.String()
			for _, want := range []string{
				"/oauth2/v2.0/token 200 issued token " + tok.AccessToken.Fingerprint(),
				"/oauth2/v2.0/token 401 invalid_client",
				"GET /v1.0/users/me 200",
				"token requests: 2\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, clientSecret) || strings.Contains(out, tok.AccessToken.Reveal()) ||
				strings.Contains(out, tok.RefreshToken.Reveal()) {
				t.Errorf("stderr holds a secret:\n%s", out)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	good := files(t, publicPEM(t))
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	junk := filepath.Join(dir, "junk")
	os.WriteFile(empty, nil, 0o600)
	os.WriteFile(junk, []byte("not pem"), 0o600)
	with := func(flag, value string) []string {
		args := append([]string(nil), good...)
		for i := range args {
			if args[i] == flag {
				args[i+1] = value
			}
		}
		return args
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"missing client id", with("-client-id", ""), "-client-id is required"},
		{"empty secret", with("-client-secret-file", empty), "is empty"},
		{"missing secret file", with("-client-secret-file", filepath.Join(dir, "none")), "client secret:"},
		{"no key in file", with("-public-key-file", junk), "no PEM public key"},
		{"no scopes", with("-scopes", " , "), "-scopes names no scope"},
		{"extra argument", append(good, "extra"), `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		var stderr syncBuffer
		if code := run(t.Context(), tt.args, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tt.name, code, stderr.String(), exitUsage, tt.want)
		}
	}
}

// TestSignal runs the test binary as lwfake and stops it with SIGTERM.
func TestSignal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on windows")
	}
	args := files(t, publicPEM(t))
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LWFAKE_TEST_MAIN=1")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitURL(t, args[len(args)-1])
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("lwfake: %v; stderr:\n%s", err, stderr.String())
	}
	if !strings.HasSuffix(stderr.String(), "token requests: 0\n") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
