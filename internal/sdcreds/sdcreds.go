// Package sdcreds owns lwtoken-helper's use of systemd credentials: encrypting a secret with
// `systemd-creds` for a system unit's LoadCredentialEncrypted= (as root), reading which key
// sealed a credential file, checking that one decrypts here, the systemd version and its
// credential features, and a minimal Varlink client of io.systemd.Credentials for
// user-scoped credentials (systemd >= 256) that needs neither root nor cgo.
//
// Secrets go to systemd-creds on its standard input and come back on a pipe: never in argv,
// never in a temporary plaintext file.
package sdcreds

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Versions that brought the features lwtoken-helper uses.
const (
	// MinEncrypted: systemd-creds and LoadCredentialEncrypted= (Ubuntu 22.04 has 249).
	MinEncrypted = 250
	// MinImport: ImportCredential= (informational).
	MinImport = 254
	// MinUserScope: `systemd-creds --user` and the user scope of io.systemd.Credentials.
	MinUserScope = 256
)

// ErrTooOld is returned (wrapped) when systemd lacks encrypted credentials.
var ErrTooOld = errors.New("systemd is older than 250: no encrypted credentials")

// ErrNoSystemdCreds is returned (wrapped) when the systemd-creds program is missing.
var ErrNoSystemdCreds = errors.New("systemd-creds not found")

var versionLine = regexp.MustCompile(`^systemd (\d+)`)

// Version runs `systemctl --version` and returns systemd's major version. It fails when
// systemctl is missing or prints something else.
func Version(ctx context.Context) (int, error) {
	out, err := exec.CommandContext(ctx, "systemctl", "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("sdcreds: systemctl --version: %w", err)
	}
	return ParseVersion(string(out))
}

// ParseVersion reads the major version from the first line of `systemctl --version`.
func ParseVersion(out string) (int, error) {
	m := versionLine.FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		return 0, fmt.Errorf("sdcreds: unexpected systemctl --version output %q", firstLine(out))
	}
	return strconv.Atoi(m[1])
}

// Features names what a systemd version offers for credentials, for doctor's report.
func Features(v int) string {
	if v < MinEncrypted {
		return "no encrypted credentials (needs 250)"
	}
	f := []string{"encrypted credentials (LoadCredentialEncrypted=)"}
	if v >= MinImport {
		f = append(f, "ImportCredential=")
	} else {
		f = append(f, "no ImportCredential= (254)")
	}
	if v >= MinUserScope {
		f = append(f, "user-scoped credentials (systemd-creds --user)")
	} else {
		f = append(f, "no user-scoped credentials (256)")
	}
	return strings.Join(f, ", ")
}

// KeyKind says what sealed a credential.
type KeyKind string

// The sealing keys systemd writes into a credential's header.
const (
	KeyHost        KeyKind = "host key"
	KeyHostScoped  KeyKind = "host key, user-scoped"
	KeyTPM2        KeyKind = "TPM2"
	KeyTPM2PK      KeyKind = "TPM2 with a signed PCR policy"
	KeyHostTPM2    KeyKind = "host key and TPM2"
	KeyHostTPM2Sc  KeyKind = "host key and TPM2, user-scoped"
	KeyHostTPM2PK  KeyKind = "host key and TPM2 with a signed PCR policy"
	KeyNull        KeyKind = "no key (integrity only, no confidentiality)"
	KeyUnknownKind KeyKind = "an unknown key type"
)

// The 128-bit ids at the start of an encrypted credential (systemd's creds-util.h).
var headerIDs = map[string]KeyKind{
	"5a1c6a86df9d4096b1d5a65e0862f19a": KeyHost,
	"55b9ed1d38594d43a8319d2ebb332ac6": KeyHostScoped,
	"0c7cc07b117645919c4b0bea08bc20fe": KeyTPM2,
	"faf7eb9341e3412ca1a436f95a29362f": KeyTPM2PK,
	"93a894094874449090caf2fc93cab553": KeyHostTPM2,
	"ef4ac13679a9480ea7db68897f9f165d": KeyHostTPM2Sc,
	"af4950a849134eb1a73846304ff30c05": KeyHostTPM2PK,
	"058469daf6f54324800549da0f8ea2fb": KeyNull,
}

// SealedWith reads which key sealed an encrypted credential (the base64 text systemd-creds
// writes, or its raw bytes). It fails for data that is not a credential.
func SealedWith(cred []byte) (KeyKind, error) {
	raw := cred
	if dec, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(cred), nil))); err == nil {
		raw = dec
	}
	if len(raw) < 16+4*4 {
		return "", errors.New("sdcreds: not an encrypted credential: too short")
	}
	if k, ok := headerIDs[fmt.Sprintf("%x", raw[:16])]; ok {
		return k, nil
	}
	return KeyUnknownKind, nil
}

// UsesTPM2 reports whether k involves the TPM2.
func (k KeyKind) UsesTPM2() bool { return strings.Contains(string(k), "TPM2") }

// UsesHostKey reports whether k involves the host key /var/lib/systemd/credential.secret.
func (k KeyKind) UsesHostKey() bool { return strings.HasPrefix(string(k), "host key") }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
