//go:build unix

package keystore

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// fakeSecurity is a stand-in for macOS's /usr/bin/security, in the language of a Mac set to
// Japanese: it keeps one generic password item in a file, records its argv (NUL-separated)
// and stdin, prints a warning on stderr even on success, and, when the file "fail" exists,
// exits with the status written there and a Japanese message instead.
const fakeSecurity = `#!/bin/sh
d=$(dirname "$0")
printf '%s\0' "$@" >>"$d/argv"
printf '\n' >>"$d/argv"
if [ -f "$d/hang" ]; then
	exec sleep 30 # a keychain waiting on a prompt nobody answers
fi
if [ -f "$d/fail" ]; then
	echo "security: SecKeychainItemCopyContent: 操作を完了できませんでした。" >&2
	exit "$(cat "$d/fail")"
fi
case "$1" in
-q)
	[ "$2" = -i ] || exit 2
	cat >"$d/stdin"
	v=$(sed -n "s/^add-generic-password -U -s '[^']*' -a '[^']*' -w '\([^']*\)'\$/\1/p" "$d/stdin")
	[ -n "$v" ] || { echo "security: 不明なコマンド" >&2; exit 1; }
	printf '%s' "$v" >"$d/item"
	exit 0
	;;
find-generic-password)
	echo "security: 警告: キーチェーンの検索リストに問題があります" >&2
	if [ -f "$d/item" ]; then cat "$d/item"; echo; exit 0; fi
	echo "security: SecKeychainSearchCopyNext: 指定された項目はキーチェーン内に見つかりませんでした。" >&2
	exit 44
	;;
delete-generic-password)
	if [ -f "$d/item" ]; then rm "$d/item"; exit 0; fi
	echo "security: SecKeychainSearchCopyNext: 指定された項目はキーチェーン内に見つかりませんでした。" >&2
	exit 44
	;;
esac
exit 1
`

func newFakeSecurity(t *testing.T) (dir string, k *Keyring) {
	t.Helper()
	dir = t.TempDir()
	p := filepath.Join(dir, "security")
	if err := os.WriteFile(p, []byte(fakeSecurity), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, &Keyring{backend: securityCLI{path: p}, slots: make(chan struct{}, MaxPending)}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// TestSecurityCLIOnAJapaneseMac: the macOS backend reads security(1)'s exit status, not its
// (localized) text: a missing item is ErrNotFound with Japanese messages; the secret never
// reaches an argument and stderr never mixes into it.
func TestSecurityCLIOnAJapaneseMac(t *testing.T) {
	dir, k := newFakeSecurity(t)
	ctx := context.Background()
	key := "profile/default/client-secret"
	secret := "s3cr'et\\ \"value\"\nwith a newline and ü"

	if _, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get of a missing item: %v, want ErrNotFound", err)
	}
	if err := k.Delete(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of a missing item: %v, want ErrNotFound", err)
	}
	os.Remove(filepath.Join(dir, "argv"))
	if err := k.Set(ctx, key, []byte(secret)); err != nil {
		t.Fatalf("set: %v", err)
	}
	argv := readFile(t, filepath.Join(dir, "argv"))
	if argv != "-q\x00-i\x00\n" {
		t.Fatalf("set ran security with argv %q, want -q -i", argv)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	if want := "add-generic-password -U -s 'lwtoken-helper' -a '" + key + "' -w 'go-keyring-base64:" + b64 + "'\n"; readFile(t, filepath.Join(dir, "stdin")) != want {
		t.Fatalf("set wrote %q to security -i, want %q", readFile(t, filepath.Join(dir, "stdin")), want)
	}
	got, err := k.Get(ctx, key)
	if err != nil || string(got) != secret {
		t.Fatalf("get: %q, %v; want the secret back (stderr must not mix in)", got, err)
	}
	all := readFile(t, filepath.Join(dir, "argv"))
	if strings.Contains(all, b64) || strings.Contains(all, "s3cr") {
		t.Fatalf("the secret reached security's argv: %q", all)
	}
	if !strings.Contains(all, "find-generic-password\x00-s\x00lwtoken-helper\x00-a\x00"+key+"\x00-w\x00\n") {
		t.Fatalf("get's argv: %q", all)
	}
	if err := k.Delete(ctx, key); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
}

// TestSecurityCLIExitStatuses maps each exit status of security(1) to a sentinel; the error
// keeps the status and the (Japanese) message for people, never the secret.
func TestSecurityCLIExitStatuses(t *testing.T) {
	for _, c := range []struct {
		status string
		want   error
	}{
		{"44", ErrNotFound},
		{"36", ErrLocked},  // errSecInteractionNotAllowed: locked, no UI
		{"51", ErrLocked},  // errSecAuthFailed
		{"128", ErrLocked}, // errSecUserCanceled
		{"50", ErrUnavailable},
		{"1", ErrUnavailable},
	} {
		t.Run(c.status, func(t *testing.T) {
			dir, k := newFakeSecurity(t)
			os.WriteFile(filepath.Join(dir, "fail"), []byte(c.status), 0o600)
			for _, op := range []struct {
				name string
				call func() error
			}{
				{"get", func() error { _, err := k.Get(context.Background(), "k"); return err }},
				{"set", func() error { return k.Set(context.Background(), "k", []byte("the-secret-value")) }},
				{"delete", func() error { return k.Delete(context.Background(), "k") }},
			} {
				err := op.call()
				if !errors.Is(err, c.want) {
					t.Fatalf("%s: %v, want %v", op.name, err, c.want)
				}
				for _, other := range []error{ErrNotFound, ErrUnavailable, ErrLocked, ErrTooLarge, ErrTimeout} {
					if other != c.want && errors.Is(err, other) {
						t.Fatalf("%s: %v is also %v", op.name, err, other)
					}
				}
				if c.want != ErrNotFound && (!strings.Contains(err.Error(), "exit status "+c.status) || !strings.Contains(err.Error(), "操作を完了できませんでした")) {
					t.Fatalf("%s: %q lacks the status or security's message", op.name, err)
				}
				if strings.Contains(err.Error(), "the-secret-value") {
					t.Fatalf("%s: the error holds the secret: %v", op.name, err)
				}
			}
		})
	}
}

// TestSecurityCLITooLarge: a value whose command line security -i cannot read fails with
// ErrTooLarge before security runs.
func TestSecurityCLITooLarge(t *testing.T) {
	dir, _ := newFakeSecurity(t)
	s := securityCLI{path: filepath.Join(dir, "security")}
	err := s.Set(Service, "k", strings.Repeat("x", 3100))
	if !errors.Is(err, keyring.ErrSetDataTooBig) || !errors.Is(classify("darwin", "set", err), ErrTooLarge) {
		t.Fatalf("3100 bytes: %v, want ErrSetDataTooBig", err)
	}
	if readFile(t, filepath.Join(dir, "argv")) != "" {
		t.Fatal("security ran for a value too large")
	}
	if err := s.Set(Service, "k\nx", "v"); err == nil || readFile(t, filepath.Join(dir, "argv")) != "" {
		t.Fatalf("a name with a newline: %v", err)
	}
}

// TestSecurityCLIReadsGoKeyringItems: items written by go-keyring (base64 or its older hex
// encoding) and plain ones read back.
func TestSecurityCLIReadsGoKeyringItems(t *testing.T) {
	dir, k := newFakeSecurity(t)
	for stored, want := range map[string]string{
		"go-keyring-base64:" + base64.StdEncoding.EncodeToString([]byte("a\nb")): "a\nb",
		"go-keyring-encoded:610a62": "a\nb",
		"plain":                     "plain",
	} {
		os.WriteFile(filepath.Join(dir, "item"), []byte(stored), 0o600)
		if got, err := k.Get(context.Background(), "k"); err != nil || string(got) != want {
			t.Errorf("stored %q: got %q, %v; want %q", stored, got, err, want)
		}
	}
}

// TestSecurityQuote parses securityAddCommand's line with a port of security's own line
// parser (split_line in SecurityTool/security.c): every argument comes back whole.
func TestSecurityQuote(t *testing.T) {
	for _, names := range [][2]string{
		{Service, "profile/default/private-key"},
		{"it's", `back\slash`},
		{`'"`, `\'`},
		{"spa ce", ""},
	} {
		line := securityAddCommand(names[0], names[1], "pw")
		got := splitSecurityLine(strings.TrimSuffix(line, "\n"))
		want := []string{"add-generic-password", "-U", "-s", names[0], "-a", names[1], "-w", "go-keyring-base64:" + base64.StdEncoding.EncodeToString([]byte("pw"))}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("%q parses as %q, want %q", line, got, want)
		}
	}
}

// splitSecurityLine is split_line of SecurityTool/security.c.
func splitSecurityLine(line string) []string {
	var args []string
	var cur []byte
	const (
		skipWS = iota
		readArg
		readArgEscaped
		quoted
		quotedEscaped
	)
	state, quote := skipWS, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if state == skipWS {
			if c == ' ' || c == '\t' {
				continue
			}
			if c == '"' || c == '\'' {
				quote, state, cur = c, quoted, []byte{}
				continue
			}
			state, cur = readArg, []byte{}
		}
		switch state {
		case readArg:
			switch {
			case c == '\\':
				state = readArgEscaped
			case c == ' ' || c == '\t':
				args, state = append(args, string(cur)), skipWS
			default:
				cur = append(cur, c)
			}
		case quoted:
			switch c {
			case '\\':
				state = quotedEscaped
			case quote:
				args, state = append(args, string(cur)), skipWS
			default:
				cur = append(cur, c)
			}
		case readArgEscaped:
			cur, state = append(cur, c), readArg
		case quotedEscaped:
			cur, state = append(cur, c), quoted
		}
	}
	if state != skipWS {
		args = append(args, string(cur))
	}
	return args
}

// TestSecurityCLIStopsAtTheDeadline: a security process still running at the call's
// deadline (a keychain prompt nobody answers) is killed, so its slot is free at once; with
// go-keyring the call would linger and hold the slot.
func TestSecurityCLIStopsAtTheDeadline(t *testing.T) {
	dir, k := newFakeSecurity(t)
	k.Timeout = 300 * time.Millisecond
	k.slots = make(chan struct{}, 1) // one call at a time: a lingering one would block the next
	os.WriteFile(filepath.Join(dir, "hang"), nil, 0o600)
	start := time.Now()
	if _, err := k.Get(context.Background(), "k"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("hanging security: %v, want ErrTimeout", err)
	}
	os.Remove(filepath.Join(dir, "hang"))
	os.WriteFile(filepath.Join(dir, "item"), []byte("v"), 0o600)
	got, err := k.Get(context.Background(), "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("the next call: %q, %v (the killed call's slot was not freed)", got, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s", took)
	}
}
