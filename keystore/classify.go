package keystore

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/zalando/go-keyring"
)

// classify maps an error from go-keyring's op ("get", "set" or "delete") on goos to one of
// the sentinels, wrapping the original so its text (and type) stays available:
//
//	keyring.ErrNotFound                                         ErrNotFound
//	keyring.ErrSetDataTooBig                                    ErrTooLarge
//	"failed to unlock correct collection '...'" (Secret Service:
//	    keyring locked or missing, no prompt possible)          ErrLocked
//	org.freedesktop.Secret.Error.IsLocked                       ErrLocked
//	get, delete: the item found by the search vanished before
//	    it was read or deleted (a concurrent Delete): GDBus says
//	    org.freedesktop.DBus.Error.UnknownMethod, others
//	    UnknownObject, UnknownInterface or Secret NoSuchObject  ErrNotFound
//	security(1) exit status 44 on macOS (errSecItemNotFound; the
//	    backend returns keyring.ErrNotFound for it)             ErrNotFound
//	security(1) exit status 36, 51 or 128 on macOS (locked and
//	    no UI allowed, wrong password, access denied at the
//	    prompt; see securityError)                              ErrLocked
//	anything else, e.g. exec: "dbus-launch": executable file not found (no session bus),
//	    "... was not provided by any .service files" (no Secret Service),
//	    dial unix ...: connect: ... (dead bus socket)           ErrUnavailable
func classify(goos, op string, err error) error {
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return ErrNotFound // go-keyring's own text adds nothing
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	switch dbusErrorName(err) {
	case "org.freedesktop.Secret.Error.IsLocked":
		return fmt.Errorf("%w: %w", ErrLocked, err)
	case "org.freedesktop.Secret.Error.NoSuchObject",
		"org.freedesktop.DBus.Error.UnknownMethod",
		"org.freedesktop.DBus.Error.UnknownObject",
		"org.freedesktop.DBus.Error.UnknownInterface":
		if op == "get" || op == "delete" {
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
	}
	if strings.Contains(err.Error(), "failed to unlock correct collection") {
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	var sec *securityError // macOS: security(1)'s exit status, never its localized text
	if errors.As(err, &sec) && sec.locked() {
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Hint returns a one-line, actionable hint for an error from a Store, for the line a CLI
// prints after the error, or "" when it has none (nil or not a keystore error).
func Hint(err error) string {
	return hint(runtime.GOOS, err)
}

func hint(goos string, err error) string {
	var fe *FileError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &fe):
		return fe.Hint
	case errors.Is(err, ErrUndecryptable):
		return "encrypted credentials only decrypt for the user and machine that sealed them: run `lwtoken-helperd setup` again here with the key and secret"
	case errors.Is(err, ErrTimeout):
		switch goos {
		case "darwin", "windows":
			return "the keyring did not answer: it may be waiting for you to unlock it or to allow access; answer the prompt and retry"
		}
		return "the keyring did not answer: it may be waiting on an unlock prompt; unlock your login keyring (e.g. `gnome-keyring-daemon --unlock` on a headless machine) and retry"
	case errors.Is(err, ErrNotFound):
		return "run `lwtoken-helperd setup`"
	case errors.Is(err, ErrLocked):
		switch goos {
		case "darwin":
			return "unlock your login keychain (e.g. `security unlock-keychain` in an ssh session)"
		case "windows":
			return "log in to Windows interactively so the credential manager is unlocked"
		}
		return "unlock your login keyring (e.g. `gnome-keyring-daemon --unlock` on a headless machine); if there is none, create one with a non-empty password"
	case errors.Is(err, ErrTooLarge):
		return "this keyring limits the size of one secret; use a smaller key (an RSA-2048 PEM fits on every platform)"
	case errors.Is(err, ErrUnavailable):
		switch goos {
		case "darwin":
			return "run in a logged-in macOS session that can reach the login keychain (not a LaunchDaemon or a bare ssh session)"
		case "windows":
			return "run in an interactive Windows logon session; the credential manager is not available to this session"
		}
		return "start a Secret Service (gnome-keyring or keepassxc) in your session, or run under `dbus-run-session`; see README 'headless linux'"
	}
	return ""
}
