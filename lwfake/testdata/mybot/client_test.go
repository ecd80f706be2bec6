package mybot

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/client/lwhttp"
	"github.com/lwtoken-helper/lwtoken-helper/daemon"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// A program that gets its tokens from lwtoken-helper (package client) and sends with
// lwhttp's Transport, tested against the fake: an in-process daemon whose profile points
// at srv.AuthURL, an in-memory keyring, and the fake's resource API.
func TestClientAgainstTheFake(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := lwfake.NewServer(t, lwfake.App{ClientID: "my-client", ClientSecret: "my-secret",
		ServiceAccount: "abcde.serviceaccount@example.com", PublicKey: &key.PublicKey, Scopes: []string{"bot"}})

	dir, err := os.MkdirTemp("", "mybot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := filepath.Join(dir, "config.toml")
	toml := fmt.Sprintf("[profiles.default]\nclient_id = \"my-client\"\nservice_account = \"abcde.serviceaccount@example.com\"\nscopes = [\"bot\"]\nauth_url = %q\n", srv.AuthURL)
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	store := keystore.NewMemory()
	ctx := context.Background()
	if err := store.Set(ctx, keystore.PrivateKeyKey("default"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		t.Fatal(err)
	}
	if err := store.Set(ctx, keystore.ClientSecretKey("default"), []byte("my-secret")); err != nil {
		t.Fatal(err)
	}

	sock := filepath.Join(dir, "sock")
	d, err := daemon.New(daemon.Options{SocketPath: sock, ConfigPath: cfg, Secrets: store, Tokens: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.Serve() }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		d.Shutdown(sctx)
		<-served
	})

	c := &client.Client{SocketPath: sock}
	tok, err := c.Token(ctx, client.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !srv.Valid(tok.AccessToken) {
		t.Fatal("the daemon's token is not one the fake issued")
	}
	hc := &http.Client{Transport: &lwhttp.Transport{Client: c}}
	resp, err := hc.Post(srv.APIURL+"/bots/2000001/users/user@example.com/messages", "application/json",
		strings.NewReader(`{"content":{"type":"text","text":"hello"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || len(srv.Messages()) != 1 || srv.Issued() != 1 {
		t.Fatalf("send: %s, %d messages, %d tokens issued", resp.Status, len(srv.Messages()), srv.Issued())
	}
}
