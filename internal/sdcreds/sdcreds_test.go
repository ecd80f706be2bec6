package sdcreds

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]int{
		"systemd 252 (252.38-1~deb12u1)\n+PAM +AUDIT": 252,
		"systemd 257 (257.9-1~deb13u1)":               257,
		"systemd 249 (249.11-0ubuntu3.12)":            249,
	} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseVersion("bash: systemctl: command not found"); err == nil {
		t.Error("garbage parsed")
	}
	if f := Features(249); !strings.Contains(f, "no encrypted credentials") {
		t.Errorf("249: %q", f)
	}
	if f := Features(252); !strings.Contains(f, "LoadCredentialEncrypted=") || !strings.Contains(f, "no user-scoped") {
		t.Errorf("252: %q", f)
	}
	if f := Features(257); strings.Contains(f, "no ") {
		t.Errorf("257: %q", f)
	}
}

// hostKey points systemd-creds at a fresh host key of the test's own (systemd honours
// $SYSTEMD_CREDENTIAL_SECRET), so the machine's real key is never created or used.
func hostKey(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("systemd-creds"); err != nil {
		t.Fatal("systemd-creds is needed (Debian package systemd): ", err)
	}
	p := filepath.Join(t.TempDir(), "credential.secret")
	t.Setenv("SYSTEMD_CREDENTIAL_SECRET", p)
	return p
}

// The real systemd-creds: the plaintext in on stdin, the credential out on stdout, the key
// read from its header, and decryption checked with the right and the wrong name and key.
func TestEncryptWithRealSystemdCreds(t *testing.T) {
	ctx := context.Background()
	hostKey(t)
	plain := []byte("-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n")
	enc, err := Encrypt(ctx, "default.private-key", "host", plain)
	if err != nil {
		t.Fatal(err)
	}
	if enc.Key != KeyHost || !enc.Key.UsesHostKey() || enc.Key.UsesTPM2() {
		t.Fatalf("sealed with %q, want the host key", enc.Key)
	}
	if !enc.HostKeyUnencrypted {
		t.Error("the test's host key is in /tmp, not on encrypted media: systemd-creds' warning was not noticed")
	}
	if strings.Contains(string(enc.Blob), "not really") {
		t.Fatal("plaintext in the credential")
	}
	path := filepath.Join(t.TempDir(), "default.private-key.cred")
	if err := os.WriteFile(path, enc.Blob, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckDecrypt(ctx, "default.private-key", path); err != nil {
		t.Fatalf("own credential: %v", err)
	}
	err = CheckDecrypt(ctx, "default.client-secret", path)
	if !errors.Is(err, ErrNotDecryptable) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("wrong name: %v", err)
	}
	// Another machine: no host key yet, then another host key.
	hostKey(t)
	err = CheckDecrypt(ctx, "default.private-key", path)
	if !errors.Is(err, ErrNotDecryptable) {
		t.Fatalf("no host key: %v", err)
	}
	t.Logf("another machine, no host key yet: %v", err)
	if _, err := Encrypt(ctx, "other", "host", []byte("s")); err != nil { // creates that machine's key
		t.Fatal(err)
	}
	err = CheckDecrypt(ctx, "default.private-key", path)
	if !errors.Is(err, ErrNotDecryptable) {
		t.Fatalf("another host key: %v", err)
	}
	t.Logf("another machine's host key: %v", err)

	// auto falls back to the host key without a TPM (this machine kind has none).
	enc, err = Encrypt(ctx, "x", "auto", []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/dev/tpmrm0"); err != nil && enc.Key != KeyHost {
		t.Fatalf("auto without a TPM: %q", enc.Key)
	}
	// An explicit tpm2 without one fails with systemd-creds' reason.
	if _, err := os.Stat("/dev/tpmrm0"); err != nil {
		_, err := Encrypt(ctx, "x", "tpm2", []byte("s"))
		if err == nil || !strings.Contains(err.Error(), "tpm2") {
			t.Fatalf("tpm2 without a TPM: %v", err)
		}
		t.Logf("tpm2 without a TPM: %v", err)
	}
}

func TestSealedWith(t *testing.T) {
	if _, err := SealedWith([]byte("short")); err == nil {
		t.Fatal("a short blob parsed")
	}
	raw := make([]byte, 64)
	copy(raw, []byte{0x0c, 0x7c, 0xc0, 0x7b, 0x11, 0x76, 0x45, 0x91, 0x9c, 0x4b, 0x0b, 0xea, 0x08, 0xbc, 0x20, 0xfe})
	if k, err := SealedWith(raw); err != nil || k != KeyTPM2 || !k.UsesTPM2() || k.UsesHostKey() {
		t.Fatalf("tpm2 header: %q %v", k, err)
	}
	copy(raw, []byte{0x93, 0xa8, 0x94, 0x09, 0x48, 0x74, 0x44, 0x90, 0x90, 0xca, 0xf2, 0xfc, 0x93, 0xca, 0xb5, 0x53})
	if k, _ := SealedWith(raw); k != KeyHostTPM2 || !k.UsesTPM2() || !k.UsesHostKey() {
		t.Fatalf("host+tpm2 header: %q", k)
	}
	raw[0] = 0
	if k, _ := SealedWith(raw); k != KeyUnknownKind {
		t.Fatalf("unknown header: %q", k)
	}
}
