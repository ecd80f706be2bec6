// Package daemon owns lwtoken-helperd's serving side: the Unix socket with its peer check,
// the HTTP/1.1 /v1/ API, and the token cache that mints, persists and renews tokens.
//
// It never imports the client package: both speak the protocol of docs/protocol.md.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"io"
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
	SocketPath string // required
	ConfigPath string // required; a missing file means no profiles yet
	// Secrets is where the profiles' private keys and client secrets are read from
	// (required). The daemon never writes there.
	Secrets keystore.Secrets
	// Tokens is where minted tokens are kept across restarts; nil: in memory only (a
	// restarted daemon then mints anew). It never receives a private key or client secret.
	Tokens     keystore.TokenCache
	Logger     *slog.Logger // nil: discard
	Now        func() time.Time
	Rand       func() float64 // in [0,1), for jitter; nil: math/rand/v2
	HTTPClient *http.Client   // for LINE WORKS; nil: lwauth's default
	MaxConns   int            // concurrent connections; 0: 1024

	// UpstreamTimeout bounds one token request to LINE WORKS; 0: 30 s.
	UpstreamTimeout time.Duration
	// BackoffBase and BackoffCap shape the retry schedule after a transient failure
	// (between half and all of base*2^(n-1), at most cap); 0: 1 s and 5 min. Tests
	// shrink them to watch many retries in a few seconds.
	BackoffBase, BackoffCap time.Duration
	// ReadHeaderTimeout and ReadTimeout bound how long a client may take to send its
	// request's headers and the whole request; 0: 5 s and 10 s.
	ReadHeaderTimeout, ReadTimeout time.Duration

	// OnStatus, if set, is called with StatusSummary whenever it changes, from Listen until
	// Shutdown: at once after Listen, after every request the daemon answers, after Reload
	// and Preload, when a renewal or retry in flight ends, and at the next time the cache
	// changes on its own (a scheduled renewal, retry or expiry), re-checked at least every
	// few minutes while tokens are cached (so a suspended machine is noticed). With nothing
	// cached it waits for the next request: an idle daemon stays idle. It runs on one
	// goroutine, never concurrently with itself; it must not call the Daemon back.
	OnStatus func(summary string)
}

// Daemon serves tokens. Create with New, then Listen, Serve and Shutdown.
type Daemon struct {
	opts       Options
	log        *slog.Logger
	secrets    keystore.Secrets
	store      *tokenStore // the token cache, as the daemon sees it (see tokenStore)
	now        func() time.Time
	rand       func() float64
	httpClient *http.Client
	broker     *broker
	uid        int

	cfgMu  sync.RWMutex
	cfg    *config.Config
	keyMu  sync.Mutex
	keyErr error
	// storeProblems are permanent failures to store a token (too large for the keyring), by
	// profile\x00scope: reported in status, never retried (see persist).
	storeProblems map[string]string
	// probe re-checks a troubled keyring on a backoff schedule (see probeKeyring);
	// nil when none is pending. probes counts the probes since the keyring last worked.
	probe     *time.Timer
	probes    int
	keyClosed bool

	// stopWatch ends the watch of a secret source that changes (keystore.Watcher) and
	// waits for it; nil when there is none.
	stopWatch func()

	ln       *net.UnixListener
	sockInfo fs.FileInfo
	sockLock io.Closer // held from Listen to Shutdown (see lockSocket)
	srv      *http.Server

	// statusKick asks the OnStatus watcher for a re-check; stopStatusWatch ends it (nil:
	// none).
	statusKick      chan struct{}
	stopStatusWatch context.CancelFunc
}

// New checks opts and loads the config. A missing config file is not an error (the
// daemon then answers "not configured" until setup writes one and it is reloaded); an
// invalid one is.
func New(opts Options) (*Daemon, error) {
	if opts.SocketPath == "" || opts.ConfigPath == "" || opts.Secrets == nil {
		return nil, errors.New("daemon: socket path, config path and secrets are required")
	}
	if opts.Tokens == nil {
		opts.Tokens = keystore.NewMemory()
	}
	d := &Daemon{opts: opts, log: opts.Logger, now: opts.Now, rand: opts.Rand,
		httpClient: opts.HTTPClient, uid: os.Getuid(), secrets: opts.Secrets}
	d.store = newTokenStore(d, opts.Tokens) // index of stored tokens; drops writes of revoked ones
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
	if d.opts.UpstreamTimeout <= 0 {
		d.opts.UpstreamTimeout = fetchTimeout
	}
	if d.opts.BackoffBase <= 0 {
		d.opts.BackoffBase = backoffBase
	}
	if d.opts.BackoffCap <= 0 {
		d.opts.BackoffCap = backoffCap
	}
	d.broker = &broker{d: d, entries: map[string]*entry{}, creds: map[string]*credsCache{}}
	d.statusKick = make(chan struct{}, 1)
	cfg, err := loadConfig(opts.ConfigPath, d.uid)
	if err != nil {
		return nil, err
	}
	d.cfg = cfg
	return d, nil
}

// loadConfig reads the config only when no other user than the daemon's and root could have
// written it (config.LoadTrusted): its auth_url decides where the client secret is sent.
func loadConfig(path string, uid int) (*config.Config, error) {
	cfg, err := config.LoadTrusted(path, uid)
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

// keyringStatus records the outcome of the last keyring call (nil: it worked). After a
// failure it arms a probe that re-checks the keyring on a backoff schedule, so that the
// daemon notices on its own when the keyring comes back (see broker.probeKeyring).
func (d *Daemon) keyringStatus(err error) {
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	d.keyErr = err
	if err == nil {
		d.probes = 0
		return
	}
	if d.probe != nil || d.keyClosed {
		return
	}
	d.probes++
	delay := backoffDelay(d.opts.BackoffBase, min(d.opts.BackoffCap, keyringProbeCap), d.probes, d.rand())
	d.probe = time.AfterFunc(delay, func() {
		d.keyMu.Lock()
		d.probe = nil
		closed := d.keyClosed
		d.keyMu.Unlock()
		if !closed {
			d.broker.probeKeyring()
		}
	})
}

// stopKeyringProbe cancels a pending probe for good (at shutdown).
func (d *Daemon) stopKeyringProbe() {
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	d.keyClosed = true
	if d.probe != nil {
		d.probe.Stop()
		d.probe = nil
	}
}

// watchSecrets starts watching a secret source that can change while the daemon runs (a
// credentials directory): a profile whose secrets change is retried or renewed at once (see
// broker.secretsChanged).
func (d *Daemon) watchSecrets() {
	w, ok := d.secrets.(keystore.Watcher)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Watch(ctx, d.log, func(profile string) {
			if d.profile(profile) != nil {
				d.broker.secretsChanged(profile)
			}
		})
	}()
	d.stopWatch = func() { cancel(); <-done }
}

// Reload re-reads the config file. Tokens of profiles whose settings did not change stay
// cached; entries of changed or removed profiles are dropped with their in-memory secrets;
// any profile in backoff is retried at its next request. New secrets from setup take effect
// at the next mint, which always reads the keyring first; the in-memory copy of an unchanged
// profile's secrets stays as the fallback for a locked keyring. An invalid file, or one
// that another user could have changed (the file or a directory on its path owned by
// someone other than the daemon's user or root, or writable by others), changes nothing.
func (d *Daemon) Reload() error {
	cfg, err := loadConfig(d.opts.ConfigPath, d.uid)
	if err != nil {
		d.log.Error("reload failed; keeping the previous config", "err", err)
		return err
	}
	d.cfgMu.Lock()
	old := d.cfg
	d.cfg = cfg
	d.cfgMu.Unlock()
	d.broker.drop(func(p string) bool { return old.Profiles[p].Equal(cfg.Profiles[p]) })
	d.log.Info("config reloaded", "profiles", len(cfg.Profiles))
	d.recheckStatus()
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
	d.recheckStatus()
}

// Listen creates the socket at Options.SocketPath, 0600 whatever the umask. Its directory
// must be the user's own: created 0700 when missing, refused when it is a symlink, another
// user's, or writable by group or others. A live daemon on the path is never displaced (the
// error is ErrAlreadyRunning); only a dead socket file is removed.
func (d *Daemon) Listen() error {
	lock, err := lockSocket(d.opts.SocketPath)
	if err != nil {
		return err
	}
	l, err := listenSocket(d.opts.SocketPath)
	if err != nil {
		lock.Close()
		return err
	}
	fi, err := os.Lstat(d.opts.SocketPath)
	if err != nil {
		l.Close()
		lock.Close()
		return err
	}
	d.ln, d.sockInfo, d.sockLock = l, fi, lock
	d.watchSecrets()
	d.srv = &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: cmp.Or(d.opts.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       cmp.Or(d.opts.ReadTimeout, 10*time.Second),
		WriteTimeout:      d.opts.UpstreamTimeout + 15*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if s, ok := c.(*slot); ok {
				return context.WithValue(context.WithValue(ctx, peerKey{}, s.peer), slotKey{}, s)
			}
			return ctx
		},
	}
	if d.opts.OnStatus != nil {
		d.watchStatus()
	}
	return nil
}

// Serve answers requests until Shutdown. It returns nil after Shutdown.
func (d *Daemon) Serve() error {
	if d.ln == nil {
		return errors.New("daemon: Serve before Listen")
	}
	d.log.Info("listening", "socket", d.opts.SocketPath, "config", d.opts.ConfigPath, "profiles", len(d.config().Profiles),
		"secrets", d.secrets.Describe(), "token_cache", d.store.Describe())
	err := d.srv.Serve(&peerListener{UnixListener: d.ln, d: d, sem: make(chan struct{}, d.opts.MaxConns), conns: map[*slot]struct{}{},
		refusals: newRefusalLog(d.log, refusalSummaryEvery)})
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
	if d.stopWatch != nil {
		d.stopWatch()
		d.stopWatch = nil
	}
	if d.stopStatusWatch != nil {
		d.stopStatusWatch()
	}
	d.broker.close()
	d.stopKeyringProbe()
	if d.sockInfo != nil && sameFile(d.opts.SocketPath, d.sockInfo) {
		os.Remove(d.opts.SocketPath)
	}
	if d.sockLock != nil {
		d.sockLock.Close()
		d.sockLock = nil
	}
	return err
}

// Connection shedding. At MaxConns, the connection that has waited longest without a
// request being handled (silent, sending its request slowly, or idle between requests)
// is closed to admit a new one, if it has waited at least shedAfter: slow clients cannot
// starve the others, and a local client that sends its request at once is never shed.
const (
	shedAfter = 500 * time.Millisecond
	shedPoll  = 50 * time.Millisecond
)

// Slot states.
const (
	slotWaiting int32 = iota // no request being handled: new, reading a request, or idle
	slotBusy                 // a handler runs
	slotShed                 // closed to make room
)

// slot is an accepted connection holding one of the listener's MaxConns slots.
type slot struct {
	*peerConn
	state atomic.Int32
	since atomic.Int64 // UnixNano when it last became slotWaiting
}

type slotKey struct{}

// beginRequest marks the connection of ctx busy for the duration of a handler; it reports
// false if the connection is being shed (the caller then answers nothing).
func beginRequest(ctx context.Context) (end func(), ok bool) {
	s, _ := ctx.Value(slotKey{}).(*slot)
	if s == nil {
		return func() {}, true
	}
	if !s.state.CompareAndSwap(slotWaiting, slotBusy) {
		return nil, false
	}
	return func() {
		s.since.Store(time.Now().UnixNano())
		s.state.CompareAndSwap(slotBusy, slotWaiting)
	}, true
}

// peerListener checks every connection's peer uid and bounds concurrent connections,
// shedding slow ones at the limit.
type peerListener struct {
	*net.UnixListener
	d        *Daemon
	sem      chan struct{}
	closed   atomic.Bool
	refusals *refusalLog

	mu    sync.Mutex
	conns map[*slot]struct{}
}

func (l *peerListener) Close() error {
	l.closed.Store(true)
	err := l.UnixListener.Close()
	l.refusals.close()
	return err
}

// acquire takes a slot for a connection just accepted, shedding the longest-waiting idle
// or slow connection when all are taken. It fails only when the listener is closed.
func (l *peerListener) acquire() error {
	for {
		select {
		case l.sem <- struct{}{}:
			return nil
		default:
		}
		if l.closed.Load() {
			return net.ErrClosed
		}
		l.shedOldest()
		select {
		case l.sem <- struct{}{}:
			return nil
		case <-time.After(shedPoll):
		}
	}
}

// shedOldest closes the connection that has waited longest without a request being
// handled, if it has waited at least shedAfter.
func (l *peerListener) shedOldest() {
	limit := time.Now().Add(-shedAfter).UnixNano()
	l.mu.Lock()
	var oldest *slot
	for s := range l.conns {
		if since := s.since.Load(); s.state.Load() == slotWaiting && since <= limit && (oldest == nil || since < oldest.since.Load()) {
			oldest = s
		}
	}
	l.mu.Unlock()
	if oldest != nil && oldest.state.CompareAndSwap(slotWaiting, slotShed) {
		l.d.log.Debug("connection limit reached: closing the connection idle longest", "peer_pid", oldest.peer.PID,
			"waited", time.Since(time.Unix(0, oldest.since.Load())).Round(time.Millisecond).String())
		oldest.Close()
	}
}

// Accept returns the next connection of the daemon's own user that got a slot. The slot is
// taken after the connection is accepted, so that a connection is shed only when another
// one is actually waiting.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.UnixListener.Accept()
		if err != nil {
			return nil, err
		}
		p, err := peerOf(c)
		if err != nil || p.UID != l.d.uid {
			l.refusals.refused(p.UID, p.PID, err) // before the close: a peer that saw EOF is counted
			c.Close()
			continue
		}
		if err := l.acquire(); err != nil {
			c.Close()
			return nil, err
		}
		s := &slot{}
		s.since.Store(time.Now().UnixNano())
		s.peerConn = &peerConn{Conn: c, peer: p, release: func() {
			l.mu.Lock()
			delete(l.conns, s)
			l.mu.Unlock()
			<-l.sem
		}}
		l.mu.Lock()
		l.conns[s] = struct{}{}
		l.mu.Unlock()
		return s, nil
	}
}
