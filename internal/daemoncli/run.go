package daemoncli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/daemon"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

type runOptions struct {
	socket    string
	config    string
	logLevel  string
	logFormat string
}

func runRun(ctx context.Context, env *Env, args []string) int {
	o := runOptions{socket: env.Getenv(wire.EnvSocket), config: env.Getenv(config.EnvConfig),
		logLevel: envOr(env, EnvLogLevel, "info"), logFormat: "text"}
	fs := newFlags(env, "run", "run [--socket PATH] [--config FILE] [--log-level LEVEL]", "lwtoken-helperd run --log-level debug")
	fs.StringVar(&o.socket, "socket", o.socket, "socket `path` (env "+wire.EnvSocket+"; default "+wire.DefaultSocketPath()+")")
	fs.StringVar(&o.config, "config", o.config, "config `file` (env "+config.EnvConfig+")")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "debug, info, warn or error (env "+EnvLogLevel+")")
	fs.StringVar(&o.logFormat, "log-format", o.logFormat, "text or json")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		errorf(env, "run: unknown log level %q", o.logLevel)
		hintf(env, "use debug, info, warn or error")
		return ExitUsage
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
		return ExitUsage
	}
	if o.socket == "" {
		o.socket = wire.DefaultSocketPath()
	}
	if o.config == "" {
		p, err := config.Path()
		if err != nil {
			errorf(env, "run: %v", err)
			return ExitError
		}
		o.config = p
	}
	if err := daemon.Harden(); err != nil {
		log.Warn("process hardening incomplete", "err", err)
	}
	d, err := daemon.New(daemon.Options{SocketPath: o.socket, ConfigPath: o.config, Store: &keystore.Keyring{},
		Logger: log, Now: testClock()})
	if err != nil {
		errorf(env, "run: %v", err)
		hintf(env, "fix the config file or rerun `%s setup`", prog)
		return ExitNotConfigured
	}
	if err := d.Listen(); err != nil {
		errorf(env, "run: %v", err)
		if errors.Is(err, daemon.ErrAlreadyRunning) {
			hintf(env, "stop the other daemon first, or pass --socket to run a second one elsewhere")
		} else {
			hintf(env, "choose another path with --socket or %s", wire.EnvSocket)
		}
		return ExitError
	}
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
			d.Shutdown(context.Background())
			return ExitOK
		}
	}
}
