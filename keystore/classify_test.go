package keystore

import (
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	dbus "github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error
	}{
		// The failure texts of go-keyring documented in /shared/test-env.md, as they come.
		{"no session bus", &exec.Error{Name: "dbus-launch", Err: exec.ErrNotFound}, ErrUnavailable},
		{"no secret service", dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown",
			Body: []any{"The name org.freedesktop.secrets was not provided by any .service files"}}, ErrUnavailable},
		{"dead socket", errors.New("dial unix /run/user/1000/bus: connect: no such file or directory"), ErrUnavailable},
		{"locked", errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'"), ErrLocked},
		{"no default collection", errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"), ErrLocked},
		{"not found", keyring.ErrNotFound, ErrNotFound},
		{"too big", keyring.ErrSetDataTooBig, ErrTooLarge},
		{"is locked by name", dbus.Error{Name: "org.freedesktop.Secret.Error.IsLocked", Body: []any{"Cannot get secret of a locked object"}}, ErrLocked},
		{"is locked by name, pointer", &dbus.Error{Name: "org.freedesktop.Secret.Error.IsLocked"}, ErrLocked},
		{"item vanished", dbus.Error{Name: "org.freedesktop.Secret.Error.NoSuchObject", Body: []any{"The item does not exist"}}, ErrNotFound},
		{"item vanished, gdbus", dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownMethod",
			Body: []any{"Object does not exist at path “/org/freedesktop/secrets/collection/login/8”"}}, ErrNotFound},
		{"item vanished, gdbus delete", dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownMethod",
			Body: []any{"No such interface “org.freedesktop.Secret.Item” on object at path /org/freedesktop/secrets/collection/login/7"}}, ErrNotFound},
		{"item vanished, other service", dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownObject"}, ErrNotFound},
		{"wrapped", fmt.Errorf("outer: %w", keyring.ErrNotFound), ErrNotFound},
		{"unknown", errors.New("something nobody expected"), ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := classify("linux", "get", c.err)
			if !errors.Is(got, c.want) {
				t.Fatalf("classify(%v) = %v, want %v", c.err, got, c.want)
			}
			for _, other := range []error{ErrNotFound, ErrUnavailable, ErrLocked, ErrTooLarge, ErrTimeout} {
				if other != c.want && errors.Is(got, other) {
					t.Errorf("classify(%v) = %v is also %v", c.err, got, other)
				}
			}
			if c.want != ErrNotFound && !strings.Contains(got.Error(), c.err.Error()) {
				t.Errorf("classify(%v) = %q dropped the backend's text", c.err, got)
			}
			if c.want != ErrNotFound && reflect.TypeOf(c.err).Comparable() && !errors.Is(got, c.err) {
				t.Errorf("classify(%v) does not wrap the original error", c.err)
			}
		})
	}
	t.Run("set on a vanished object", func(t *testing.T) {
		err := dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownObject"}
		if got := classify("linux", "set", err); !errors.Is(got, ErrUnavailable) {
			t.Errorf("set: %v, want ErrUnavailable", got)
		}
		if got := classify("linux", "delete", err); !errors.Is(got, ErrNotFound) {
			t.Errorf("delete: %v, want ErrNotFound", got)
		}
	})
}

func TestHint(t *testing.T) {
	if got := Hint(nil); got != "" {
		t.Errorf("Hint(nil) = %q", got)
	}
	if got := Hint(errors.New("other")); got != "" {
		t.Errorf("Hint(other) = %q", got)
	}
	for _, goos := range []string{"linux", "darwin", "windows", "freebsd"} {
		for _, s := range []error{ErrNotFound, ErrUnavailable, ErrLocked, ErrTooLarge, ErrTimeout} {
			h := hint(goos, opError("get", "k", s))
			if h == "" || strings.Contains(h, "\n") {
				t.Errorf("%s: hint for %v = %q, want one line", goos, s, h)
			}
		}
	}
	if h := hint("linux", opError("get", "k", ErrUnavailable)); !strings.Contains(h, "dbus-run-session") {
		t.Errorf("linux unavailable hint = %q", h)
	}
	if h := hint("linux", ErrNotFound); !strings.Contains(h, "lwtoken-helperd setup") {
		t.Errorf("not found hint = %q", h)
	}
	if h := hint("linux", ErrLocked); !strings.Contains(h, "gnome-keyring-daemon --unlock") {
		t.Errorf("locked hint = %q", h)
	}
}

func TestCheckSizeDarwin(t *testing.T) {
	rsa2048, rsa4096 := testkey.PEM(testkey.App()), testkey.PEM(testkey.Sized(4096))
	key := PrivateKeyKey("default")
	if err := checkSize("darwin", Service, key, len(rsa2048)); err != nil {
		t.Errorf("RSA-2048 PEM (%d bytes) rejected on darwin: %v", len(rsa2048), err)
	}
	if err := checkSize("darwin", Service, key, len(rsa4096)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("RSA-4096 PEM (%d bytes) accepted on darwin: go-keyring would fail", len(rsa4096))
	}
	// Whatever checkSize lets through, the line securityCLI.Set sends must fit.
	for _, names := range [][2]string{
		{Service, key},
		{Service, "profile/it's quoted/private-key"},
		{"svc with spaces '", "k'''"},
		{`back\slash`, `k\`},
		{"", ""},
	} {
		limit := maxDarwinValue(names[0], names[1])
		if limit < 2000 {
			t.Errorf("%q: max value %d is needlessly small", names, limit)
		}
		for n := limit - 8; n <= limit+8; n++ {
			err := checkSize("darwin", names[0], names[1], n)
			fits := len(securityAddCommand(names[0], names[1], strings.Repeat("x", n))) <= securityLineMax
			if err == nil && !fits {
				t.Fatalf("%q: %d bytes accepted, but securityCLI.Set would return ErrSetDataTooBig", names, n)
			}
			if (err == nil) != (n <= limit) {
				t.Errorf("%q: %d bytes: err %v, but maxDarwinValue is %d", names, n, err, limit)
			}
		}
	}
}

func TestCheckSizeWindowsAndLinux(t *testing.T) {
	if err := checkSize("windows", Service, "k", 2560); err != nil {
		t.Errorf("2560 bytes rejected on windows: %v", err)
	}
	err := checkSize("windows", Service, "k", 2561)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("2561 bytes accepted on windows")
	}
	if !strings.Contains(opError("set", "k", err).Error(), `keystore: set "k": value too large for this keyring: 2561 bytes`) {
		t.Errorf("error text: %v", opError("set", "k", err))
	}
	if err := checkSize("linux", Service, "k", 1<<20); err != nil {
		t.Errorf("1 MiB rejected on linux: %v", err)
	}
}
