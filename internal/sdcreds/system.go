package sdcreds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// WithKey values of `systemd-creds encrypt --with-key=`: auto seals with the host key and
// the TPM2 when a TPM2 is usable, else with the host key alone.
var WithKeys = []string{"auto", "host", "tpm2", "host+tpm2"}

// HostKeyPath is the host key systemd-creds creates on first use.
const HostKeyPath = "/var/lib/systemd/credential.secret"

// Encrypted is the result of Encrypt.
type Encrypted struct {
	Blob []byte  // the credential, base64 text as systemd-creds writes it
	Key  KeyKind // what sealed it, read from the blob's header
	// HostKeyUnencrypted: systemd-creds warned that the host key is not on encrypted media.
	HostKeyUnencrypted bool
}

// Encrypt seals plaintext for a system unit's `LoadCredentialEncrypted=NAME:PATH` with
// `systemd-creds encrypt --name=NAME --with-key=WITHKEY - -`: the plaintext goes in on
// stdin and the credential comes back on stdout. Needs root (the host key and the TPM are
// root's). The error quotes systemd-creds' first line of complaint.
func Encrypt(ctx context.Context, name, withKey string, plaintext []byte) (*Encrypted, error) {
	if _, err := exec.LookPath("systemd-creds"); err != nil {
		return nil, fmt.Errorf("sdcreds: encrypt: %w", ErrNoSystemdCreds)
	}
	cmd := exec.CommandContext(ctx, "systemd-creds", "encrypt", "--name="+name, "--with-key="+withKey, "-", "-")
	cmd.Stdin = bytes.NewReader(plaintext)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := complaint(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("sdcreds: systemd-creds encrypt --with-key=%s: %s", withKey, msg)
	}
	k, err := SealedWith(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("sdcreds: systemd-creds encrypt wrote no credential: %w", err)
	}
	return &Encrypted{Blob: stdout.Bytes(), Key: k,
		HostKeyUnencrypted: strings.Contains(stderr.String(), "not located on encrypted media")}, nil
}

// ErrNotDecryptable is returned (wrapped) by CheckDecrypt when systemd cannot decrypt a
// credential on this machine (another machine's host key or TPM, a changed host key, a
// wrong name).
var ErrNotDecryptable = errors.New("does not decrypt on this machine")

// CheckDecrypt runs `systemd-creds decrypt --name=NAME PATH -` with its output thrown away
// (/dev/null): nil means a unit loading it would get the plaintext. Needs root.
func CheckDecrypt(ctx context.Context, name, path string) error {
	cmd := exec.CommandContext(ctx, "systemd-creds", "decrypt", "--name="+name, path, "-")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr // nil: /dev/null
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return fmt.Errorf("sdcreds: systemd-creds decrypt: %w", err)
		}
		msg := complaint(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%w (systemd-creds: %s)", ErrNotDecryptable, msg)
	}
	return nil
}

// complaint is the first line of systemd-creds' stderr that is not the encrypted-media
// warning, lower-cased at the start and without a trailing period.
func complaint(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Contains(l, "not located on encrypted media") {
			continue
		}
		l = strings.TrimSuffix(l, ".")
		if len(l) > 1 && l[1] >= 'a' && l[1] <= 'z' { // "Failed" but not "TPM2"
			l = strings.ToLower(l[:1]) + l[1:]
		}
		return l
	}
	return ""
}
