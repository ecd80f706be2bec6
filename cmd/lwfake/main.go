// Command lwfake runs the fake LINE WORKS of package
// github.com/lwtoken-helper/lwtoken-helper/lwfake as a standalone process, for the demo,
// for shell scripts, and for tests in other processes, languages or containers.
//
// It serves the token and revoke endpoints under /oauth2/v2.0 and the resource stand-in
// under /v1.0/, for one app given by flags. The client secret is read from a file, never
// from a flag value. It logs one line per request to stderr (time, method, path, result);
// tokens appear only as 8-hex-digit SHA-256 fingerprints. SIGINT or SIGTERM stops it; it
// then prints "token requests: N".
//
// Install it with
//
//	go install github.com/lwtoken-helper/lwtoken-helper/cmd/lwfake@latest
//
// Usage:
//
//	lwfake -client-id ID -client-secret-file FILE -service-account SA \
//	       -public-key-file KEY.pem -scopes "bot user.read" [-addr 127.0.0.1:0] \
//	       [-lifetime 24h] [-url-file PATH]
//
// Exit codes: 0 stopped by a signal, 1 error, 2 usage.
package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	addr             string
	clientID         string
	clientSecretFile string
	serviceAccount   string
	publicKeyFile    string
	scopes           string
	lifetime         time.Duration
	urlFile          string
}

// run serves until ctx is done and returns the exit code.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("lwfake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen `address`")
	fs.StringVar(&o.clientID, "client-id", "", "the app's client `id` (required)")
	fs.StringVar(&o.clientSecretFile, "client-secret-file", "", "`file` holding the app's client secret (required)")
	fs.StringVar(&o.serviceAccount, "service-account", "", "the app's service `account` (required)")
	fs.StringVar(&o.publicKeyFile, "public-key-file", "", "PEM `file` with the app's RSA public key, or its private key (required)")
	fs.StringVar(&o.scopes, "scopes", "", "the app's `scopes`, space- or comma-separated (required)")
	fs.DurationVar(&o.lifetime, "lifetime", 24*time.Hour, "lifetime (expires_in) of issued access tokens")
	fs.StringVar(&o.urlFile, "url-file", "", "write the auth base URL to `path` once listening")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lwfake: error: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	app, err := o.app()
	if err != nil {
		fmt.Fprintf(stderr, "lwfake: error: %v\n", err)
		return exitUsage
	}
	if err := serve(ctx, o, app, stderr); err != nil {
		fmt.Fprintf(stderr, "lwfake: error: %v\n", err)
		return exitError
	}
	return exitOK
}

// app builds the app from the flags, reading the secret and key files.
func (o options) app() (lwfake.App, error) {
	for _, f := range []struct{ name, value string }{
		{"-client-id", o.clientID},
		{"-client-secret-file", o.clientSecretFile},
		{"-service-account", o.serviceAccount},
		{"-public-key-file", o.publicKeyFile},
		{"-scopes", o.scopes},
	} {
		if f.value == "" {
			return lwfake.App{}, fmt.Errorf("%s is required", f.name)
		}
	}
	if o.lifetime < time.Second {
		return lwfake.App{}, errors.New("-lifetime must be at least 1s")
	}
	b, err := os.ReadFile(o.clientSecretFile)
	if err != nil {
		return lwfake.App{}, fmt.Errorf("client secret: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return lwfake.App{}, fmt.Errorf("client secret file %s is empty", o.clientSecretFile)
	}
	pub, err := readPublicKey(o.publicKeyFile)
	if err != nil {
		return lwfake.App{}, err
	}
	scopes := lwauth.ParseScopes(o.scopes)
	if len(scopes) == 0 {
		return lwfake.App{}, errors.New("-scopes names no scope")
	}
	return lwfake.App{
		ClientID:       o.clientID,
		ClientSecret:   secret,
		ServiceAccount: o.serviceAccount,
		PublicKey:      pub,
		Scopes:         scopes,
	}, nil
}

// readPublicKey reads an RSA public key from a PEM file holding a public key
// ("PUBLIC KEY" or "RSA PUBLIC KEY"), a certificate, or the private key.
func readPublicKey(path string) (*rsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var key any
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			if !strings.Contains(block.Type, "PRIVATE KEY") {
				continue
			}
			priv, err := lwauth.ParsePrivateKey(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return &priv.PublicKey, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: malformed %q block", path, block.Type)
		}
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: the key is a %T, not RSA", path, key)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("%s: no PEM public key, certificate or private key found", path)
}

// serve listens, writes the URL file, and serves until ctx is done.
func serve(ctx context.Context, o options, app lwfake.App, stderr io.Writer) error {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer ln.Close()

	logger := log.New(stderr, "", 0)
	fake, err := lwfake.New(app)
	if err != nil {
		return err
	}
	fake.SetLifetime(o.lifetime)
	fake.OnRequest(func(e lwfake.Event) {
		logger.Printf("%s %s %s %s", time.Now().UTC().Format(time.RFC3339), e.Method, e.Path, result(e))
	})
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}

	url := "http://" + ln.Addr().String() + lwfake.AuthPath
	if o.urlFile != "" {
		if err := writeFileAtomic(o.urlFile, url+"\n"); err != nil {
			return fmt.Errorf("url file: %w", err)
		}
	}
	fmt.Fprintf(stderr, "lwfake: listening on %s (client %s, scopes %s)\n", url, app.ClientID, strings.Join(app.Scopes, " "))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	fake.Close() // release hung and delayed requests
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	fmt.Fprintf(stderr, "token requests: %d\n", fake.TokenRequests())
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// result is the outcome part of a log line; it never holds a secret.
func result(e lwfake.Event) string {
	switch {
	case e.Status == 0:
		return "no answer (" + e.Reason + ")"
	case e.Token != "":
		return fmt.Sprintf("%d issued token %s", e.Status, e.Token)
	case e.Code != "":
		return fmt.Sprintf("%d %s (%s)", e.Status, e.Code, e.Reason)
	default:
		return fmt.Sprint(e.Status)
	}
}

// writeFileAtomic writes data to path through a temporary file and a rename, so a
// reader never sees a partial file.
func writeFileAtomic(path, data string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".lwfake-url-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
