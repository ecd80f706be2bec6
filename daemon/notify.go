package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// envNotifySocket is where systemd (Type=notify) tells its service to send status datagrams.
const envNotifySocket = "NOTIFY_SOCKET"

// Notifier speaks the sd_notify protocol: one datagram of newline-separated KEY=VALUE lines
// to the Unix socket named by $NOTIFY_SOCKET ('@' first: abstract namespace). With no
// socket every method is a no-op returning nil, so a daemon started by hand, by launchd or
// in tests calls it unconditionally. The zero value is such a no-op; it is safe for
// concurrent use.
type Notifier struct {
	addr string

	mu   sync.Mutex
	conn *net.UnixConn
}

// NewNotifier returns a Notifier for the socket in $NOTIFY_SOCKET ("" or unset: a no-op).
func NewNotifier() *Notifier { return newNotifierAt(os.Getenv(envNotifySocket)) }

// newNotifierAt returns a Notifier for the socket at addr ("" : a no-op).
func newNotifierAt(addr string) *Notifier { return &Notifier{addr: addr} }

// Enabled reports whether a service manager listens.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != "" }

// Ready tells the service manager that the daemon serves requests, with a status line.
func (n *Notifier) Ready(status string) error {
	return n.send("READY=1\nSTATUS=" + statusLine(status))
}

// Status replaces the one-line status shown by `systemctl status`.
func (n *Notifier) Status(status string) error { return n.send("STATUS=" + statusLine(status)) }

// Stopping tells the service manager that the daemon is shutting down.
func (n *Notifier) Stopping() error { return n.send("STOPPING=1\nSTATUS=stopping") }

// Close releases the socket; later calls reopen it.
func (n *Notifier) Close() error {
	if !n.Enabled() {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	err := n.conn.Close()
	n.conn = nil
	return err
}

// statusLine keeps a status to one line: a newline would start another KEY=VALUE.
func statusLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (n *Notifier) send(msg string) error {
	if !n.Enabled() {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		if !strings.HasPrefix(n.addr, "/") && !strings.HasPrefix(n.addr, "@") {
			return errors.New("sd_notify: " + envNotifySocket + " is neither an absolute path nor an abstract socket")
		}
		c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.addr, Net: "unixgram"})
		if err != nil {
			return fmt.Errorf("sd_notify: %w", err)
		}
		n.conn = c
	}
	n.conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := n.conn.Write([]byte(msg)); err != nil {
		n.conn.Close()
		n.conn = nil
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
