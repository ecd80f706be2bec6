// Package daemon owns lwtoken-helperd's serving side: the Unix socket with its peer check,
// the HTTP/1.1 /v1/ API, and the token cache that mints, persists and renews tokens.
//
// It never imports the client package; both speak internal/wire.
package daemon

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// Options configure a Daemon. Zero values take the defaults documented per field.
type Options struct {
	SocketPath string         // required
	ConfigPath string         // required; a missing file means no profiles yet
	Store      keystore.Store // required
	Logger     *slog.Logger   // nil: discard
	Now        func() time.Time
	Rand       func() float64 // in [0,1), for jitter; nil: math/rand/v2
	HTTPClient *http.Client   // for LINE WORKS; nil: lwauth's default
	MaxConns   int            // concurrent connections; 0: 1024
}

// Daemon serves tokens. Create with New, then Listen, Serve and Shutdown.
type Daemon struct {
	opts       Options
	log        *slog.Logger
	store      keystore.Store
	now        func() time.Time
	rand       func() float64
	httpClient *http.Client
	broker     *broker
	upstream   atomic.Int64
	uid        int

	cfgMu  sync.RWMutex
	cfg    *config.Config
	keyMu  sync.Mutex
	keyErr error

	ln       *net.UnixListener
	sockInfo fs.FileInfo
	srv      *http.Server
}

// New checks opts and loads the config. A missing config file is not an error (the
// daemon then answers "not configured" until setup writes one and it is reloaded); an
// invalid one is.
func New(opts Options) (*Daemon, error) {
	if opts.SocketPath == "" || opts.ConfigPath == "" || opts.Store == nil {
		return nil, errors.New("daemon: socket path, config path and store are required")
	}
	d := &Daemon{opts: opts, log: opts.Logger, store: opts.Store, now: opts.Now, rand: opts.Rand,
		httpClient: opts.HTTPClient, uid: os.Getuid()}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.rand == nil {
		d.rand = rand.Float64
	}
	if d.opts.MaxConns <= 0 {
		d.opts.MaxConns = 1024
	}
	d.broker = &broker{d: d, entries: map[string]*entry{}, creds: map[string]*credsCache{}}
	cfg, err := loadConfig(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	d.cfg = cfg
	return d, nil
}

func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if errors.Is(err, config.ErrNotFound) {
		return &config.Config{Profiles: map[string]*config.Profile{}}, nil
	}
	return cfg, err
}

// profile returns the named profile of the current config, or nil.
func (d *Daemon) profile(name string) *config.Profile {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return d.cfg.Profiles[name]
}

func (d *Daemon) config() *config.Config {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return d.cfg
}

// keyringStatus records the outcome of the last keyring call (nil: it worked).
func (d *Daemon) keyringStatus(err error) {
	d.keyMu.Lock()
	d.keyErr = err
	d.keyMu.Unlock()
}

// UpstreamRequests returns how many token requests the daemon sent to LINE WORKS.
func (d *Daemon) UpstreamRequests() int64 { return d.upstream.Load() }

// Reload re-reads the config file. Tokens of profiles whose settings did not change stay
// cached; entries of changed or removed profiles are dropped; the in-memory copy of the
// secrets is dropped so the next mint reads the keyring (new secrets from setup take effect),
// and any profile in backoff is retried at its next request. An invalid file changes nothing.
func (d *Daemon) Reload() error {
	cfg, err := loadConfig(d.opts.ConfigPath)
	if err != nil {
		d.log.Error("reload failed; keeping the previous config", "err", err)
		return err
	}
	d.cfgMu.Lock()
	old := d.cfg
	d.cfg = cfg
	d.cfgMu.Unlock()
	d.broker.drop(func(p string) bool { return old.Profiles[p].Equal(cfg.Profiles[p]) })
	d.broker.forgetCredentials()
	d.log.Info("config reloaded", "profiles", len(cfg.Profiles))
	return nil
}

// Preload looks in the keyring for a stored token of each profile's configured scopes, so
// a restarted daemon serves and renews them without minting. It mints nothing; a request
// that arrives meanwhile waits for the look-up instead of minting in parallel.
func (d *Daemon) Preload() {
	cfg := d.config()
	var flights []*flight
	for _, name := range cfg.Names() {
		e := d.broker.entry(name, cfg.Profiles[name].Scopes)
		e.mu.Lock()
		if c := d.broker.startLoadLocked(e); c != nil {
			flights = append(flights, c)
		}
		e.mu.Unlock()
	}
	for _, c := range flights {
		<-c.done
	}
}

// Listen creates the socket (see listenSocket for the checks). It fails with
// ErrAlreadyRunning when a daemon answers there.
func (d *Daemon) Listen() error {
	l, err := listenSocket(d.opts.SocketPath)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(d.opts.SocketPath)
	if err != nil {
		l.Close()
		return err
	}
	d.ln, d.sockInfo = l, fi
	d.srv = &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      fetchTimeout + 15*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if pc, ok := c.(*peerConn); ok {
				return context.WithValue(ctx, peerKey{}, pc.peer)
			}
			return ctx
		},
	}
	return nil
}

// Serve answers requests until Shutdown. It returns nil after Shutdown.
func (d *Daemon) Serve() error {
	if d.ln == nil {
		return errors.New("daemon: Serve before Listen")
	}
	d.log.Info("listening", "socket", d.opts.SocketPath, "config", d.opts.ConfigPath, "profiles", len(d.config().Profiles))
	err := d.srv.Serve(&peerListener{UnixListener: d.ln, d: d, sem: make(chan struct{}, d.opts.MaxConns)})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets in-flight requests finish (until ctx ends), stops the
// renewal timers and removes the socket if it is still ours.
func (d *Daemon) Shutdown(ctx context.Context) error {
	var err error
	if d.srv != nil {
		err = d.srv.Shutdown(ctx)
		d.ln.Close() // in case Serve never ran
	}
	d.broker.close()
	if d.sockInfo != nil && sameFile(d.opts.SocketPath, d.sockInfo) {
		os.Remove(d.opts.SocketPath)
	}
	return err
}

// peerListener checks every connection's peer uid and bounds concurrent connections.
type peerListener struct {
	*net.UnixListener
	d   *Daemon
	sem chan struct{}
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		l.sem <- struct{}{}
		c, err := l.UnixListener.Accept()
		if err != nil {
			<-l.sem
			return nil, err
		}
		p, err := peerOf(c)
		if err != nil || p.UID != l.d.uid {
			c.Close()
			<-l.sem
			if err != nil {
				l.d.log.Warn("connection refused: cannot read peer credentials", "err", err)
			} else {
				l.d.log.Warn("connection refused: peer is another user", "peer_uid", p.UID, "peer_pid", p.PID)
			}
			continue
		}
		return &peerConn{Conn: c, peer: p, release: func() { <-l.sem }}, nil
	}
}
