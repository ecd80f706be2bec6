package keystore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// securityCLI is the macOS keychain backend: it runs Apple's security(1) itself instead of
// through go-keyring, whose darwin code tells "not found" by matching the English message
// "could not be found" (so a Mac set to another language reads every missing item as a
// failure) and reads the secret from stdout and stderr mixed. The logic is plain os/exec, so
// it builds and is tested on every OS with a fake security program; only darwin uses it.
//
//   - Results come from the exit status, which security sets to the low byte of the
//     Security framework's OSStatus, the same in every language: 44 errSecItemNotFound,
//     36 errSecInteractionNotAllowed (locked, no UI), 51 errSecAuthFailed, 128
//     errSecUserCanceled (see securityError).
//   - The secret never appears in an argument: Set writes the add-generic-password command
//     to `security -q -i` on stdin (security's interactive mode runs one command per line and
//     exits with the status of the last), and Get reads it from stdout alone.
//   - Values are stored as go-keyring stores them ("go-keyring-base64:" + base64), so items
//     written by earlier versions read back, and security never hex-encodes them.
type securityCLI struct {
	path string // /usr/bin/security; tests point it at a fake
}

// securityLineMax is the longest line security's interactive mode reads, newline included
// (MAX_LINE_LEN 4096 in SecurityTool/security.c, read with a terminating NUL).
const securityLineMax = 4095

// Exit statuses of security(1): the low byte of an OSStatus.
const (
	securityNotFound      = 44  // errSecItemNotFound (-25300)
	securityNoInteraction = 36  // errSecInteractionNotAllowed (-25308): locked and no UI allowed
	securityAuthFailed    = 51  // errSecAuthFailed (-25293): wrong keychain password at the prompt
	securityUserCanceled  = 128 // errSecUserCanceled (-128): the user denied access at the prompt
)

// securityError is a failure of security(1): its exit status and the first line it printed on
// stderr (in the Mac's language; for people only, never matched). It unwraps to the
// *exec.ExitError.
type securityError struct {
	op     string
	status int
	msg    string
	err    error
}

func (e *securityError) Error() string {
	s := fmt.Sprintf("security %s: exit status %d", e.op, e.status)
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

func (e *securityError) Unwrap() error { return e.err }

// locked reports whether the status means the keychain could not be opened for us: locked
// with no way to prompt, a wrong password or a refusal at the prompt.
func (e *securityError) locked() bool {
	switch e.status {
	case securityNoInteraction, securityAuthFailed, securityUserCanceled:
		return true
	}
	return false
}

func (s securityCLI) run(ctx context.Context, op, stdin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.path, args...)
	cmd.WaitDelay = time.Second // a killed security's children must not hold its pipes open
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.Bytes(), nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("security %s: stopped: %w", op, context.Cause(ctx))
	case errors.As(err, &exit):
		if exit.ExitCode() == securityNotFound {
			return nil, keyring.ErrNotFound
		}
		return nil, &securityError{op: op, status: exit.ExitCode(), msg: firstLine(errb.String()), err: err}
	}
	return nil, fmt.Errorf("security %s: %w", op, err)
}

// Get returns the value of the generic password item (service, user).
func (s securityCLI) Get(service, user string) (string, error) {
	return s.getContext(context.Background(), service, user)
}

// Set stores password under (service, user), replacing an existing item (-U).
func (s securityCLI) Set(service, user, password string) error {
	return s.setContext(context.Background(), service, user, password)
}

// Delete removes the item (service, user).
func (s securityCLI) Delete(service, user string) error {
	return s.deleteContext(context.Background(), service, user)
}

func (s securityCLI) getContext(ctx context.Context, service, user string) (string, error) {
	out, err := s.run(ctx, "find-generic-password", "", "find-generic-password", "-s", service, "-a", user, "-w")
	if err != nil {
		return "", err
	}
	v := strings.TrimSuffix(string(out), "\n")
	switch {
	case strings.HasPrefix(v, base64Prefix):
		b, err := base64.StdEncoding.DecodeString(v[len(base64Prefix):])
		if err != nil {
			return "", fmt.Errorf("security find-generic-password: the stored value is not valid base64: %w", err)
		}
		return string(b), nil
	case strings.HasPrefix(v, hexPrefix): // go-keyring's older encoding
		b, err := hex.DecodeString(v[len(hexPrefix):])
		if err != nil {
			return "", fmt.Errorf("security find-generic-password: the stored value is not valid hex: %w", err)
		}
		return string(b), nil
	}
	return v, nil
}

func (s securityCLI) setContext(ctx context.Context, service, user, password string) error {
	if strings.ContainsAny(service+user, "\x00\r\n") {
		return errors.New("security add-generic-password: a service or account name with a line break or NUL cannot be sent to security -i")
	}
	line := securityAddCommand(service, user, password)
	if len(line) > securityLineMax {
		return fmt.Errorf("%w: the security command would be %d bytes, more than the %d it reads", keyring.ErrSetDataTooBig, len(line), securityLineMax)
	}
	_, err := s.run(ctx, "add-generic-password", line, "-q", "-i")
	return err
}

func (s securityCLI) deleteContext(ctx context.Context, service, user string) error {
	_, err := s.run(ctx, "delete-generic-password", "", "delete-generic-password", "-s", service, "-a", user)
	return err
}

// Value encodings of go-keyring, kept for compatibility with the items it wrote.
const (
	base64Prefix = "go-keyring-base64:"
	hexPrefix    = "go-keyring-encoded:"
)

// securityAddCommand is the line Set sends to `security -i`.
func securityAddCommand(service, user, password string) string {
	return "add-generic-password -U -s " + securityQuote(service) + " -a " + securityQuote(user) +
		" -w " + securityQuote(base64Prefix+base64.StdEncoding.EncodeToString([]byte(password))) + "\n"
}

// securityQuote quotes s for the line parser of security's interactive mode (split_line in
// SecurityTool/security.c): inside '...' a backslash makes the next byte literal. A shell's
// '"'"' idiom, which go-keyring uses, would split the argument there.
func securityQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
