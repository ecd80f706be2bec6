//go:build (dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd

// The build constraint is go-keyring's for its Secret Service backend (keyring_unix.go).

package keystore

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dbus "github.com/godbus/dbus/v5"
)

// go-keyring talks to the Secret Service over godbus's shared session-bus connection. When
// a collection is locked it asks for a prompt and registers a signal channel on that
// connection that it never removes (go-keyring v0.2.8 handlePrompt, godbus v5.2.2). From then
// on every signal the connection receives, such as the next prompt's Completed, parks one
// goroutine per leaked channel forever: n calls on a locked keyring leak about n²/2
// goroutines (measured: 80 calls, 3,000 goroutines). The only way to free them is to close
// the connection, which godbus's SessionBus then reopens on the next call. Closing it under
// a call that waits for a prompt would make go-keyring dereference a nil signal and panic, so
// every call holds busMu shared, and the reset takes it exclusively, only when no call is in
// flight (a call that timed out still counts until it returns).
var (
	busMu     sync.RWMutex
	busDirty  atomic.Bool // a call may have left a signal channel behind
	busResets atomic.Int64
)

// promptThreshold: a call slower than this probably went through a prompt.
const promptThreshold = time.Second

// beginBackendCall is called before each go-keyring call; the function it returns, after.
func beginBackendCall() func(err error) {
	resetSessionBusIfDirty()
	busMu.RLock()
	start := time.Now()
	return func(err error) {
		took := time.Since(start)
		busMu.RUnlock()
		if took > promptThreshold || (err != nil && strings.Contains(err.Error(), "failed to unlock correct collection")) {
			busDirty.Store(true)
			resetSessionBusIfDirty()
		}
	}
}

func resetSessionBusIfDirty() {
	if !busDirty.Load() || !busMu.TryLock() {
		return
	}
	defer busMu.Unlock()
	if !busDirty.Swap(false) {
		return
	}
	if conn, err := dbus.SessionBus(); err == nil {
		_ = conn.Close()
		busResets.Add(1)
	}
}

// dbusErrorName returns the D-Bus error name in err's chain, or "". Names are steadier than
// messages, which differ between bus implementations (dbus-daemon, dbus-broker) and services.
func dbusErrorName(err error) string {
	var v dbus.Error
	if errors.As(err, &v) {
		return v.Name
	}
	var p *dbus.Error
	if errors.As(err, &p) && p != nil {
		return p.Name
	}
	return ""
}
