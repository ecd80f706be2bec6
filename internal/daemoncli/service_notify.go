package daemoncli

import (
	"log/slog"

	"github.com/lwtoken-helper/lwtoken-helper/daemon"
)

// serviceNotify tells a systemd service manager (Type=notify) that the daemon is ready,
// keeps its STATUS= line on the token cache current, and says when the daemon stops.
// Without $NOTIFY_SOCKET (run by hand, by launchd, in tests) it does nothing.
type serviceNotify struct {
	n   *daemon.Notifier
	log *slog.Logger
}

func newServiceNotify(log *slog.Logger) *serviceNotify {
	return &serviceNotify{n: daemon.NewNotifier(), log: log}
}

// onStatus is the daemon's Options.OnStatus: it replaces the STATUS= line. Nil without a
// service manager, so that the daemon watches nothing.
func (sn *serviceNotify) onStatus() func(string) {
	if !sn.n.Enabled() {
		return nil
	}
	return func(s string) {
		if err := sn.n.Status(s); err != nil {
			sn.log.Debug("cannot update the service manager's status line", "err", err)
		}
	}
}

// ready sends READY=1 with a first status line. Call it once d listens.
func (sn *serviceNotify) ready(d *daemon.Daemon) {
	if !sn.n.Enabled() {
		return
	}
	if err := sn.n.Ready(d.StatusSummary()); err != nil {
		sn.log.Warn("cannot tell the service manager that the daemon is ready", "err", err)
	}
}

// stopping sends STOPPING=1.
func (sn *serviceNotify) stopping() {
	if err := sn.n.Stopping(); err != nil {
		sn.log.Debug("cannot tell the service manager that the daemon stops", "err", err)
	}
	sn.n.Close()
}
