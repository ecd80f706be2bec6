// Package daemontest owns a real lwtoken-helperd for the tests and examples of Go
// programs that use the client packages: the daemon package serving on a Unix socket in
// a temporary directory, an in-memory keyring, and the fake LINE WORKS token endpoint and
// resource API of lwfake, with a wall clock the test can move.
package daemontest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/daemon"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// Scopes are the scopes of every profile of an Env.
var Scopes = []string{"bot", "user.read"}

// Env is a running daemon and its fakes.
type Env struct {
	Dir    string         // temporary directory, removed by Close
	Socket string         // the daemon's socket
	Fake   *lwfake.Server // the token endpoint and the resource API
	API    string         // base URL of the resource API stand-in (Fake.APIURL, ends in /v1.0)
	Daemon *daemon.Daemon
	Store  *keystore.Memory

	offset atomic.Int64
	creds  map[string][2]string // profile: client id, client secret
	served chan error
}

// Options change what StartWith sets up; the zero value is what Start does.
type Options struct {
	Profiles []string     // the profiles, each an app of the fake with Scopes; default: "default"
	Logger   *slog.Logger // the daemon's logger; nil: discard
}

// Start starts a daemon with the given profiles (default: "default"), each an app of the
// fake with Scopes. The daemon's clock and the fake's are Now (see Advance).
func Start(profiles ...string) (*Env, error) { return StartWith(Options{Profiles: profiles}) }

// StartWith starts a daemon as o says, the way `lwtoken-helperd run` does: Listen,
// Preload (it finds no stored token), then Serve.
func StartWith(o Options) (*Env, error) {
	profiles := o.Profiles
	if len(profiles) == 0 {
		profiles = []string{"default"}
	}
	key := testkey.App()
	dir, err := os.MkdirTemp("", "lwdt")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir, Socket: filepath.Join(dir, "run", "sock"), Store: keystore.NewMemory(), served: make(chan error, 1),
		creds: map[string][2]string{}}
	var apps []lwfake.App
	cfg := &config.Config{Profiles: map[string]*config.Profile{}}
	keyPEM := testkey.PEM(key)
	for i, name := range profiles {
		id := fmt.Sprintf("client-%d", i)
		sec := fmt.Sprintf("secret-%d-%s", i, rand.Text()[:12])
		apps = append(apps, lwfake.App{ClientID: id, ClientSecret: sec, ServiceAccount: "bot.serviceaccount@example.com",
			PublicKey: &key.PublicKey, Scopes: Scopes})
		cfg.Profiles[name] = &config.Profile{ClientID: id, ServiceAccount: "bot.serviceaccount@example.com", Scopes: Scopes}
		e.creds[name] = [2]string{id, sec}
		e.Store.Set(context.Background(), keystore.PrivateKeyKey(name), keyPEM)
		e.Store.Set(context.Background(), keystore.ClientSecretKey(name), []byte(sec))
	}
	if e.Fake, err = lwfake.New(apps...); err == nil {
		err = e.Fake.Start()
	}
	if err != nil {
		e.Close()
		return nil, err
	}
	e.Fake.SetNow(e.Now)
	for _, p := range cfg.Profiles {
		p.AuthURL = e.Fake.AuthURL
	}
	e.API = e.Fake.APIURL
	cfgPath := filepath.Join(dir, "config.toml")
	if err := config.Save(cfgPath, cfg); err != nil {
		e.Close()
		return nil, err
	}
	d, err := daemon.New(daemon.Options{SocketPath: e.Socket, ConfigPath: cfgPath, Secrets: e.Store, Tokens: e.Store, Now: e.Now,
		Logger: o.Logger})
	if err != nil {
		e.Close()
		return nil, err
	}
	if err := d.Listen(); err != nil {
		e.Close()
		return nil, err
	}
	d.Preload()
	e.Daemon = d
	go func() { e.served <- d.Serve() }()
	return e, nil
}

// Now is the clock of the daemon and the fake: the wall clock plus what Advance added.
func (e *Env) Now() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

// Advance moves the clock of the daemon and the fake forward by d.
func (e *Env) Advance(d time.Duration) { e.offset.Add(int64(d)) }

// Revoke revokes an access token of profile at the fake's revoke endpoint, the way an
// admin or another program would: the daemon still believes it valid, the resource API
// refuses it with 403 UNAUTHORIZED, as LINE WORKS does.
func (e *Env) Revoke(profile, accessToken string) error {
	c, ok := e.creds[profile]
	if !ok {
		return fmt.Errorf("daemontest: no profile %q", profile)
	}
	resp, err := http.PostForm(e.Fake.AuthURL+"/revoke", url.Values{"client_id": {c[0]}, "client_secret": {c[1]},
		"token": {accessToken}, "token_type_hint": {"access_token"}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("daemontest: revoke: %s", resp.Status)
	}
	return nil
}

// Close stops the daemon and the fakes and removes Dir.
func (e *Env) Close() error {
	var err error
	if e.Daemon != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = e.Daemon.Shutdown(ctx)
		cancel()
		if serr := <-e.served; serr != nil {
			err = errors.Join(err, serr)
		}
	}
	if e.Fake != nil {
		e.Fake.Close()
	}
	os.RemoveAll(e.Dir)
	return err
}
