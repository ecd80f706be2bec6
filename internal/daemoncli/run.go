package daemoncli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/daemon"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// EnvUpstreamTimeout is the environment twin of run --upstream-timeout.
const EnvUpstreamTimeout = "LWTOKEN_HELPERD_UPSTREAM_TIMEOUT"

// maxUpstreamTimeout bounds --upstream-timeout: a token request that takes longer is lost.
const maxUpstreamTimeout = 5 * time.Minute

type runOptions struct {
	socket          string
	config          string
	logLevel        string
	logFormat       string
	upstreamTimeout time.Duration
	stores          storeOptions
	logFile         string
	logMax          int64
	fatalExit       int
}

// runRun is `lwtoken-helperd run`. With --fatal-exit-status N, the exit codes of its fatal
// usage and configuration errors (NoRestartExitCodes) become N: a launchd agent, whose
// KeepAlive can only tell success from failure, passes 0 so that it is not restarted in a
// loop. The flag is found in args even when another flag fails to parse.
func runRun(ctx context.Context, env *Env, args []string) int {
	code := serve(ctx, env, args)
	if slices.Contains(NoRestartExitCodes(), code) {
		if n, ok := fatalExitStatus(args); ok {
			return n
		}
	}
	return code
}

// fatalExitStatus finds a valid --fatal-exit-status value in args (before a "--").
func fatalExitStatus(args []string) (int, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "fatal-exit-status" {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return 0, false
			}
			value = args[i+1]
		}
		n, err := strconv.Atoi(value)
		return n, err == nil && n >= 0 && n <= 255
	}
	return 0, false
}

func serve(ctx context.Context, env *Env, args []string) int {
	o := runOptions{socket: env.Getenv(wire.EnvSocket), config: env.Getenv(config.EnvConfig),
		logLevel: envOr(env, EnvLogLevel, "info"), logFormat: "text"}
	fs := newFlags(env, "run", "run [--socket PATH] [--config FILE] [--credentials-dir DIR] [--log-level LEVEL]", "lwtoken-helperd run --log-level debug")
	fs.StringVar(&o.socket, "socket", o.socket, "socket `path` (env "+wire.EnvSocket+"; default "+wire.DefaultSocketPath()+")")
	fs.StringVar(&o.config, "config", o.config, "config `file` (env "+config.EnvConfig+")")
	bindStoreFlags(env, fs, &o.stores)
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "debug, info, warn or error (env "+EnvLogLevel+")")
	fs.StringVar(&o.logFormat, "log-format", o.logFormat, "text or json")
	upstream := envOr(env, EnvUpstreamTimeout, "30s")
	fs.StringVar(&upstream, "upstream-timeout", upstream, "give up on one token request to LINE WORKS after this `duration` (env "+EnvUpstreamTimeout+")")
	fs.StringVar(&o.logFile, "log-file", "", "write the log to this `file` (and point stdout and stderr at it), rotating it to FILE.1 at --log-max-size")
	fs.Int64Var(&o.logMax, "log-max-size", 10<<20, "with --log-file: rotate the log past this many `bytes`")
	fs.IntVar(&o.fatalExit, "fatal-exit-status", -1, "exit with this `status` (0-255) instead of 64 or 78 after a fatal usage or configuration error (launchd agents: 0)")
	if code, ok := parse(env, fs, args); !ok {
		if code == ExitUsage {
			return ExitDaemonUsage // never 2: that is a crash, which a service manager restarts
		}
		return code
	}
	if e := servePlatformError(runtime.GOOS); e != nil {
		return e.report(env, "run")
	}
	var err error
	if o.upstreamTimeout, err = time.ParseDuration(upstream); err != nil || o.upstreamTimeout <= 0 || o.upstreamTimeout > maxUpstreamTimeout {
		errorf(env, "run: --upstream-timeout %q is not a duration between 0 and %s", upstream, maxUpstreamTimeout)
		hintf(env, "use e.g. 30s or 1m")
		return ExitDaemonUsage
	}
	if o.fatalExit < -1 || o.fatalExit > 255 {
		errorf(env, "run: --fatal-exit-status %d is not between 0 and 255", o.fatalExit)
		return ExitDaemonUsage
	}
	if o.logMax < minLogMax {
		errorf(env, "run: --log-max-size %d is below %d bytes", o.logMax, minLogMax)
		return ExitDaemonUsage
	}
	if o.logFile != "" {
		l, err := openRotatingLog(o.logFile, o.logMax, redirectStdio)
		if err != nil {
			errorf(env, "run: %v", err)
			hintf(env, "choose a --log-file in a directory you can write")
			return ExitDaemonConfig
		}
		defer l.Close()
		env.Stderr = l
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		errorf(env, "run: unknown log level %q", o.logLevel)
		hintf(env, "use debug, info, warn or error")
		return ExitDaemonUsage
	}
	hopts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	switch strings.ToLower(o.logFormat) {
	case "text":
		log = slog.New(slog.NewTextHandler(env.Stderr, hopts))
	case "json":
		log = slog.New(slog.NewJSONHandler(env.Stderr, hopts))
	default:
		errorf(env, "run: unknown log format %q", o.logFormat)
		hintf(env, "use text or json")
		return ExitDaemonUsage
	}
	if o.socket == "" {
		o.socket = wire.DefaultSocketPath()
	} else if !filepath.IsAbs(o.socket) || len(o.socket) > wire.MaxSocketPath {
		// Checked here, not only by Listen, so that it is a usage error a restart cannot fix.
		errorf(env, "run: --socket %q must be an absolute path of at most %d bytes", o.socket, wire.MaxSocketPath)
		hintf(env, "e.g. --socket %s", wire.DefaultSocketPath())
		return ExitDaemonUsage
	}
	if o.config == "" {
		p, err := config.Path()
		if err != nil {
			errorf(env, "run: %v", err)
			hintf(env, "pass --config FILE")
			return ExitDaemonConfig
		}
		o.config = p
	}
	if testNoHarden() {
		log.Warn("test build: process hardening skipped")
	} else if err := daemon.Harden(); err != nil {
		log.Warn("process hardening incomplete", "err", err)
	}
	o.stores.socket = o.socket
	st, err := chooseStores(env, o.stores)
	if err != nil {
		errorf(env, "run: %v", err)
		hintf(env, "point --credentials-dir (or %s) at the directory where the secret manager puts PROFILE.private-key and PROFILE.client-secret, owned by root or uid %d and writable by nobody else", EnvCredentialsDir, os.Getuid())
		return ExitDaemonConfig // the secret sources as configured cannot work: a restart finds the same
	}
	st, _ = withUserCredentials(st, o.stores, o.config)
	st.start(log)
	backoffBase, backoffCap := testBackoff()
	readHeader, readWhole := testReadTimeouts()
	sn := newServiceNotify(log) // systemd Type=notify: READY=1 and a STATUS= line on the token cache
	d, err := daemon.New(daemon.Options{SocketPath: o.socket, ConfigPath: o.config, Secrets: st.secrets, Tokens: st.tokens,
		Logger: log, Now: testClock(), UpstreamTimeout: o.upstreamTimeout, BackoffBase: backoffBase, BackoffCap: backoffCap,
		ReadHeaderTimeout: readHeader, ReadTimeout: readWhole, OnStatus: sn.onStatus()})
	if err != nil {
		errorf(env, "run: %v", err)
		hintf(env, "%s", configFix(err, "fix the config file or rerun `"+prog+" setup`"))
		return ExitDaemonConfig
	}
	if err := d.Listen(); err != nil {
		errorf(env, "run: %v", err)
		var dirErr *daemon.SocketDirError
		switch {
		case errors.Is(err, daemon.ErrAlreadyRunning):
			hintf(env, "stop the other daemon first, or pass --socket to run a second one elsewhere")
		case errors.As(err, &dirErr):
			hintf(env, "choose another path with --socket or %s", wire.EnvSocket)
			return ExitDaemonConfig // a restart finds the same directory
		default:
			hintf(env, "choose another path with --socket or %s", wire.EnvSocket)
		}
		return ExitError
	}
	sn.ready(d)
	go d.Preload()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- d.Serve() }()
	for {
		select {
		case err := <-served:
			if err != nil {
				log.Error("serve failed", "err", err)
				return ExitError
			}
			return ExitOK
		case s := <-sigs:
			if s == syscall.SIGHUP {
				d.Reload()
				continue
			}
			log.Info("shutting down", "signal", s.String())
			sn.stopping()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := d.Shutdown(sctx)
			cancel()
			<-served
			if err != nil {
				log.Warn("shutdown: requests cut short", "err", err)
			}
			log.Info("stopped")
			return ExitOK
		case <-ctx.Done():
			sn.stopping()
			d.Shutdown(context.Background())
			return ExitOK
		}
	}
}
