package daemoncli

import (
	"context"
	"log/slog"

	"github.com/lwtoken-helper/lwtoken-helper/daemon"
)

// serviceNotify tells a systemd service manager (Type=notify) that the daemon is ready,
// keeps its STATUS= line on the token cache current, and says when the daemon stops.
// Without $NOTIFY_SOCKET (run by hand, by launchd, in tests) it does nothing.
type serviceNotify struct {
	n       *daemon.Notifier
	log     *slog.Logger
	recheck func()
	cancel  context.CancelFunc
}

// notifyReady sends READY=1 with a first status line and starts watching the cache. Call it
// after d.Listen and before d.Serve.
func notifyReady(ctx context.Context, d *daemon.Daemon, log *slog.Logger) *serviceNotify {
	sn := &serviceNotify{n: daemon.NewNotifier(), log: log, recheck: func() {}, cancel: func() {}}
	if !sn.n.Enabled() {
		return sn
	}
	if err := sn.n.Ready(d.StatusSummary()); err != nil {
		log.Warn("cannot tell the service manager that the daemon is ready", "err", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	sn.cancel = cancel
	sn.recheck = d.WatchStatus(wctx, func(s string) {
		if err := sn.n.Status(s); err != nil {
			log.Debug("cannot update the service manager's status line", "err", err)
		}
	})
	return sn
}

// refresh re-checks the status line after a change that did not come through a request
// (the preload of stored tokens, a reload on SIGHUP).
func (sn *serviceNotify) refresh() { sn.recheck() }

// stopping stops the watch and sends STOPPING=1.
func (sn *serviceNotify) stopping() {
	sn.cancel()
	if err := sn.n.Stopping(); err != nil {
		sn.log.Debug("cannot tell the service manager that the daemon stops", "err", err)
	}
	sn.n.Close()
}
